package main

// The verbs that handle a cgroup by name: create, update, add, ls and rm.
// The pipe stage is in apply.go, run in run.go, stats in stats.go, freeze,
// thaw and kill in control.go; each is a thin call into cg-limit/cgroup.

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"ctrkit/cg-limit/cgroup"
	"ctrkit/internal/cli"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const tool = "cg-limit"

// CreateCmd is cg-limit create NAME [LIMITS].
type CreateCmd struct {
	Name        string `arg:"" help:"Name: the cgroup is /ctrkit/NAME in every hierarchy."`
	Limits      `embed:""`
	DeviceFlags `embed:""`
}

func (c *CreateCmd) Help() string {
	return `Makes the directory /ctrkit/NAME in each cgroup hierarchy it needs (one on cgroup v2,
one per controller on v1) and writes the limits into its files; prints the path, which is
what linux.cgroupsPath of a runtime spec holds. Nothing is left behind when a limit fails.`
}

func (c *CreateCmd) Run(g *cli.Globals, s *Stdio) error {
	res, err := c.Limits.Resources()
	if err != nil {
		return err
	}
	if res.Devices, err = c.devices(nil); err != nil {
		return err
	}
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	cg, err := h.Create(g.Log(tool, s.Stderr), c.Name, res)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.Stdout, cg.Path())
	return nil
}

// UpdateCmd is cg-limit update NAME [LIMITS].
type UpdateCmd struct {
	Name      string `arg:"" help:"The cgroup to change: NAME for /ctrkit/NAME, or an absolute cgroup path."`
	Resources string `help:"Read the new limits as OCI linux.resources JSON from FILE (\"-\": stdin), like runc update --resources; flags add to them." placeholder:"FILE"`
	Limits    `embed:""`
}

func (c *UpdateCmd) Run(g *cli.Globals, s *Stdio) error {
	res, err := c.Limits.Resources()
	if err != nil {
		return err
	}
	if c.Resources != "" {
		var base specs.LinuxResources
		if err := spec.ReadPart("--resources", c.Resources, &base); err != nil {
			return err
		}
		res = merge(&base, res)
	}
	cg, err := open(g, s, c.Name)
	if err != nil {
		return err
	}
	return cg.Update(res)
}

// AddCmd is cg-limit add NAME PID.
type AddCmd struct {
	Name string `arg:"" help:"The cgroup."`
	PID  int    `arg:"" name:"pid" help:"The process to move (with all its threads)."`
}

func (c *AddCmd) Run(g *cli.Globals, s *Stdio) error {
	cg, err := open(g, s, c.Name)
	if err != nil {
		return err
	}
	return cg.Add(c.PID)
}

// LsCmd is cg-limit ls.
type LsCmd struct{}

func (c *LsCmd) Run(g *cli.Globals, s *Stdio) error {
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	for _, n := range h.List() {
		fmt.Fprintln(s.Stdout, n)
	}
	return nil
}

// RmCmd is cg-limit rm NAME….
type RmCmd struct {
	Names []string `arg:"" name:"name" help:"The cgroups to remove."`
	Force bool     `short:"f" help:"Kill their processes first."`
}

func (c *RmCmd) Help() string {
	return `Removes the directory /ctrkit/NAME from every hierarchy (rmdir), then /ctrkit where it is
left empty, and forgets the cgroup in STATE/NAME/resources.json, where cg-limit recorded it
when a document named the container NAME. A cgroup recorded there and never made (a
cg-limit killed between the two) only loses its record.`
}

func (c *RmCmd) Run(g *cli.Globals, s *Stdio) error {
	var errs []error
	for _, n := range c.Names {
		cg, err := open(g, s, n)
		if err != nil && spec.Recorded(g.State, n, tool, cgroup.Path(n)) {
			// Recorded and never made (cg-limit killed in between, or an
			// earlier rm interrupted): nothing to remove but the record.
			err = spec.Forget(g.State, n, tool, cgroup.Path(n))
			if err == nil {
				fmt.Fprintf(s.Stderr, "cg-limit: no cgroup %s: forgot its record in %s\n", cgroup.Path(n), filepath.Join(g.State, n))
			}
			errs = append(errs, err)
			continue
		}
		if err == nil && c.Force {
			err = cg.Kill(syscall.SIGKILL)
		}
		if err == nil {
			err = cg.Remove()
		}
		if err == nil {
			err = spec.Forget(g.State, n, tool, cgroup.Path(n))
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func open(g *cli.Globals, s *Stdio, name string) (*cgroup.Cgroup, error) {
	h, err := cgroup.Detect()
	if err != nil {
		return nil, err
	}
	return h.Open(g.Log(tool, s.Stderr), name)
}
