package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"ctrkit/fs-layer/overlay"
	"ctrkit/internal/cli"
	"ctrkit/internal/store"
)

type LsCmd struct{}

func (c *LsCmd) Run(g *cli.Globals, s *Stdio) error {
	ids, err := overlay.List(g.Root)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(s.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tIMAGE\tLAYERS\tDRIVER\tMOUNTED\tROOTFS\tVOLUMES")
	for _, id := range ids {
		ctr, err := overlay.Load(g.Root, g.State, id)
		if err != nil {
			fmt.Fprintf(s.Stderr, "fs-layer: %v\n", err)
			continue
		}
		vols := strings.Join(ctr.Volumes, ",")
		if vols == "" {
			vols = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%v\t%s\t%s\n", id, store.ShortName(ctr.Image), len(ctr.Chain), ctr.Driver, ctr.Mounted, ctr.Mountpoint, vols)
	}
	return w.Flush()
}
