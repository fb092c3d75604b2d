package main

import (
	"fmt"
	"path/filepath"

	"ctrkit/fs-layer/overlay"
	"ctrkit/internal/cli"
	"ctrkit/internal/spec"
)

type RmCmd struct {
	IDs   []string `arg:"" name:"id" help:"The container ids."`
	Force bool     `short:"f" help:"No error for a container that does not exist."`
}

func (c *RmCmd) Help() string {
	return `Unmounts STATE/ID/rootfs, deletes ROOT/containers/ID (the upper layer) and forgets the
mount in STATE/ID/resources.json. What an interrupted rm left (part of the directory, the
mount, or only the record) is removed the same way.`
}

func (c *RmCmd) Run(g *cli.Globals, s *Stdio) error {
	log := g.Log("fs-layer", s.Stderr)
	for _, id := range c.IDs {
		ctr, err := overlay.Load(g.Root, g.State, id)
		if err != nil {
			// An earlier rm that was interrupted (ctr-run killed while it
			// removed the container, then ctr-run gc) finishes here.
			if rest := overlay.Remains(g.Root, g.State, id); rest != nil {
				ctr, err = rest, nil
			} else if spec.Recorded(g.State, id, "fs-layer") {
				fmt.Fprintf(s.Stderr, "fs-layer: no container %s: forgot its record in %s\n", id, filepath.Join(g.State, id))
				err = spec.ForgetStage(g.State, id, "fs-layer")
				spec.CleanState(g.State, id, "fs-layer")
				if err != nil {
					return err
				}
				continue
			}
		}
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
