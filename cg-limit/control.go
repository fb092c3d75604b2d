package main

import (
	"ctrkit/internal/cli"
	"ctrkit/internal/signame"
)

// FreezeCmd is cg-limit freeze NAME.
type FreezeCmd struct {
	Name string `arg:"" help:"The cgroup."`
}

func (c *FreezeCmd) Help() string {
	return "Writes 1 to cgroup.freeze (v2) or FROZEN to freezer.state (v1) and waits until every process is stopped."
}

func (c *FreezeCmd) Run(g *cli.Globals, s *Stdio) error {
	cg, err := open(g, s, c.Name)
	if err != nil {
		return err
	}
	return cg.Freeze()
}

// ThawCmd is cg-limit thaw NAME.
type ThawCmd struct {
	Name string `arg:"" help:"The cgroup."`
}

func (c *ThawCmd) Run(g *cli.Globals, s *Stdio) error {
	cg, err := open(g, s, c.Name)
	if err != nil {
		return err
	}
	return cg.Thaw()
}

// KillCmd is cg-limit kill NAME [SIGNAL].
type KillCmd struct {
	Name   string `arg:"" help:"The cgroup."`
	Signal string `arg:"" optional:"" default:"KILL" help:"Signal, by name or number (default KILL)."`
}

func (c *KillCmd) Help() string {
	return `SIGKILL on cgroup v2 is one write, 1 into cgroup.kill (Linux 5.14). Otherwise every
process in cgroup.procs is signalled; on v2 the cgroup is frozen around that, so no process
can fork a child that escapes, and on v1 SIGKILL goes round again until the cgroup is empty
(v1's freezer racing a kill has locked kernels up).`
}

func (c *KillCmd) Run(g *cli.Globals, s *Stdio) error {
	sig, err := signame.Parse(c.Signal)
	if err != nil {
		return err
	}
	cg, err := open(g, s, c.Name)
	if err != nil {
		return err
	}
	return cg.Kill(sig)
}
