package main

import (
	"fmt"

	"ctrkit/fs-layer/overlay"
	"ctrkit/internal/cli"
)

type UmountCmd struct {
	ID string `arg:"" help:"The container id."`
}

func (c *UmountCmd) Run(g *cli.Globals, s *Stdio) error {
	ctr, err := overlay.Load(g.Root, g.State, c.ID)
	if err != nil {
		return err
	}
	if !ctr.Mounted {
		return fmt.Errorf("container %s is not mounted", c.ID)
	}
	return ctr.Umount(g.Log("fs-layer", s.Stderr))
}
