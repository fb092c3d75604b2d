package main

import (
	"fmt"

	"ctrkit/fs-layer/overlay"
	"ctrkit/internal/cli"
)

type WhichCmd struct {
	ID   string `arg:"" help:"The container id."`
	Path string `arg:"" help:"A path inside the container, e.g. /etc/passwd."`
}

func (c *WhichCmd) Help() string {
	return `Looks the path up the way overlayfs does: the container's upper dir first,
then each image layer from the top; the first that has the name provides
it, a whiteout (character device 0/0) means deleted, and an opaque
directory hides the layers below it.`
}

func (c *WhichCmd) Run(g *cli.Globals, s *Stdio) error {
	ctr, err := overlay.Load(g.Root, g.State, c.ID)
	if err != nil {
		return err
	}
	if ctr.Driver == overlay.DriverCopy {
		return fmt.Errorf("container %s uses the copy driver: its files are copies, not layers", c.ID)
	}
	f, err := ctr.Which(c.Path)
	if err != nil {
		return err
	}
	if f == nil {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("%s: not in container %s", c.Path, c.ID)}
	}
	where := "the container layer (read-write)"
	if f.Layer > 0 {
		n := len(ctr.LayerDirs()) - f.Layer + 1
		where = fmt.Sprintf("layer %d of %d (%s)", n, len(ctr.LayerDirs()), ctr.DiffIDs[n-1])
	}
	if f.Deleted {
		// Like a path that is not there at all: status 1.
		fmt.Fprintf(s.Stdout, "%s: deleted by a whiteout in %s: %s\n", c.Path, where, f.Path)
		return &cli.ExitError{Code: 1}
	}
	fmt.Fprintf(s.Stdout, "%s: %s: %s\n", c.Path, where, f.Path)
	return nil
}
