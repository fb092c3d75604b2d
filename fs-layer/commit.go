package main

import (
	"fmt"

	"ctrkit/fs-layer/layer"
	"ctrkit/fs-layer/overlay"
	"ctrkit/internal/cli"
	"ctrkit/internal/store"
)

type CommitCmd struct {
	ID   string `arg:"" help:"The container id."`
	Name string `arg:"" help:"The new image's name, NAME:TAG."`
}

func (c *CommitCmd) Run(g *cli.Globals, s *Stdio) error {
	ctr, err := overlay.Load(g.Root, g.State, c.ID)
	if err != nil {
		return err
	}
	if ctr.Driver == overlay.DriverCopy {
		return fmt.Errorf("container %s uses the copy driver: without an upper dir there is no record of its changes", c.ID)
	}
	full, err := store.Normalize(c.Name)
	if err != nil {
		return err
	}
	images, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	base, err := images.Resolve(ctr.Manifest)
	if err != nil {
		return fmt.Errorf("the image of container %s: %w", c.ID, err)
	}
	ls, err := layer.OpenStore(g.Root, nil)
	if err != nil {
		return err
	}
	res, err := layer.Commit(images, base, ctr.Upper(), ls.TmpDir(), full, "fs-layer commit "+c.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stderr, "fs-layer: new layer %s (%d entries, %d whiteouts), diff id %s\n", res.Layer.Digest, res.Stats.Entries, res.Stats.Whiteouts, res.DiffID)
	fmt.Fprintln(s.Stdout, res.Manifest.Digest)
	return nil
}
