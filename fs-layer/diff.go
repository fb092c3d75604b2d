package main

import (
	"fmt"
	"io"
	"os"

	"ctrkit/fs-layer/layer"
	"ctrkit/fs-layer/overlay"
	"ctrkit/internal/cli"
)

type DiffCmd struct {
	ID     string `arg:"" help:"The container id."`
	Output string `short:"o" default:"-" help:"Where to write the tar ('-' is stdout)." placeholder:"FILE"`
}

func (c *DiffCmd) Help() string {
	return `Walks the container's upper dir, which holds exactly what the container
changed: new and modified files as they are, deletions as overlay whiteouts
(character devices 0/0), which become empty ".wh.NAME" entries, and
directories overlay marked opaque (trusted.overlay.opaque=y), which get a
".wh..wh..opq" entry. The result is an uncompressed OCI layer tar.`
}

func (c *DiffCmd) Run(g *cli.Globals, s *Stdio) error {
	ctr, err := overlay.Load(g.Root, g.State, c.ID)
	if err != nil {
		return err
	}
	if ctr.Driver == overlay.DriverCopy {
		return fmt.Errorf("container %s uses the copy driver: without an upper dir there is no record of its changes", c.ID)
	}
	w := s.Stdout
	if c.Output != "-" {
		f, err := os.Create(c.Output)
		if err != nil {
			return err
		}
		defer f.Close()
		w = io.Writer(f)
	}
	st, err := layer.Diff(ctr.Upper(), w)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stderr, "fs-layer: %d entries, %d whiteouts, %d opaque directories\n", st.Entries, st.Whiteouts, st.Opaques)
	return nil
}
