package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"ctrkit/fs-layer/overlay"
	"ctrkit/fs-layer/volume"
	"ctrkit/internal/cli"
)

type VolumeCmd struct {
	Create  VolCreateCmd  `cmd:"" help:"Create a named volume."`
	Ls      VolLsCmd      `cmd:"" help:"List named volumes."`
	Rm      VolRmCmd      `cmd:"" help:"Remove named volumes and their content."`
	Inspect VolInspectCmd `cmd:"" help:"Show a volume as JSON."`
}

type VolCreateCmd struct {
	Name string `arg:""`
}

func (c *VolCreateCmd) Run(g *cli.Globals, s *Stdio) error {
	v, _, err := volume.Create(g.Root, c.Name)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.Stdout, v.Name)
	return nil
}

type VolLsCmd struct {
	Format string `enum:"table,json" default:"table" help:"table, or json: an array of what volume inspect shows (for programs: ctr-run serve)."`
}

func (c *VolLsCmd) Run(g *cli.Globals, s *Stdio) error {
	vs, err := volume.List(g.Root)
	if err != nil {
		return err
	}
	if c.Format == "json" {
		if vs == nil {
			vs = []*volume.Volume{}
		}
		return json.NewEncoder(s.Stdout).Encode(vs)
	}
	w := tabwriter.NewWriter(s.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSIZE\tMOUNTPOINT")
	for _, v := range vs {
		fmt.Fprintf(w, "%s\t%s\t%s\n", v.Name, human(v.Size), v.Mountpoint)
	}
	return w.Flush()
}

type VolRmCmd struct {
	Names []string `arg:""`
}

func (c *VolRmCmd) Run(g *cli.Globals, s *Stdio) error {
	for _, name := range c.Names {
		if id := overlay.VolumeUser(g.Root, g.State, name); id != "" {
			return fmt.Errorf("volume %s is used by container %s (fs-layer rm %s first)", name, id, id)
		}
		if err := volume.Remove(g.Root, name); err != nil {
			return err
		}
		fmt.Fprintln(s.Stdout, name)
	}
	return nil
}

type VolInspectCmd struct {
	Name string `arg:""`
}

func (c *VolInspectCmd) Run(g *cli.Globals, s *Stdio) error {
	v, err := volume.Inspect(g.Root, c.Name)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(s.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
