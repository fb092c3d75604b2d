package main

import (
	"fmt"

	"ctrkit/fs-layer/layer"
	"ctrkit/internal/cli"
)

type UnpackCmd struct {
	Image string `arg:"" help:"The image (name or manifest digest)."`
}

func (c *UnpackCmd) Run(g *cli.Globals, s *Stdio) error {
	_, ls, layers, err := layer.UnpackImage(g.Root, c.Image, g.Log("fs-layer", s.Stderr))
	if err != nil {
		return err
	}
	for _, l := range layers {
		fmt.Fprintln(s.Stdout, ls.DiffDir(l.ChainID))
	}
	return nil
}
