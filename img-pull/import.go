package main

import (
	"errors"
	"fmt"

	"ctrkit/img-pull/pull"
	"ctrkit/internal/cli"
	"ctrkit/internal/store"
)

type ImportCmd struct {
	Args []string `arg:"" name:"ROOTFS.tar… NAME[:TAG]" help:"One or more tar files of a root filesystem (one layer each, bottom first), then the image's name."`
	Cmd  []string `help:"The image's CMD (repeat for each word), e.g. --cmd /bin/sh."`
	Env  []string `short:"e" help:"An ENV variable of the image, KEY=VALUE (repeatable)."`
}

func (c *ImportCmd) Help() string {
	return `Each tar becomes one gzip-compressed OCI layer (its digest names the
compressed bytes, its diff_id in the config names the tar itself); the config
and the manifest are written, then the name in index.json. This is how the
offline default image is made from Debian's busybox-static.`
}

func (c *ImportCmd) Run(g *cli.Globals, s *Stdio) error {
	if len(c.Args) < 2 {
		return errors.New("import needs at least one tar file and a name: img-pull import rootfs.tar demo:1")
	}
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	tars, name := c.Args[:len(c.Args)-1], c.Args[len(c.Args)-1]
	res, err := pull.Import(st, tars, name, pull.ImportOptions{Cmd: c.Cmd, Env: c.Env, Log: g.Log("img-pull", s.Stderr)})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stderr, "img-pull: imported %s\n", res.Name)
	fmt.Fprintln(s.Stdout, res.Manifest.Digest)
	return nil
}
