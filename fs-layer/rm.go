package main

import (
	"ctrkit/fs-layer/overlay"
	"ctrkit/internal/cli"
	"ctrkit/internal/spec"
)

type RmCmd struct {
	IDs   []string `arg:"" name:"id" help:"The container ids."`
	Force bool     `short:"f" help:"No error for a container that does not exist."`
}

func (c *RmCmd) Run(g *cli.Globals, s *Stdio) error {
	log := g.Log("fs-layer", s.Stderr)
	for _, id := range c.IDs {
		ctr, err := overlay.Load(g.Root, g.State, id)
		if err != nil {
			if c.Force {
				continue
			}
			return err
		}
		if err := ctr.Remove(log); err != nil {
			return err
		}
		spec.CleanState(g.State, id, "fs-layer")
	}
	return nil
}
