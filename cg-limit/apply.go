package main

import (
	"errors"

	"ctrkit/cg-limit/cgroup"
	"ctrkit/internal/cli"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ApplyCmd is the pipeline stage: … | cg-limit -m 64m | ns-enter.
type ApplyCmd struct {
	Limits      `embed:""`
	DeviceFlags `embed:""`
	Name        string `help:"Name of the cgroup (default: the document's ctrkit.id)." placeholder:"NAME"`
	PID         int    `name:"pid" help:"Also move process PID into the cgroup before printing the spec: make and join in one call." placeholder:"PID"`
	Hold        int    `help:"After printing the spec (and closing stdout), stay and read descriptor FD: the line \"rm\" ends what is left in the cgroup and removes it; end of file without it leaves the cgroup (ns-enter holds the cgroup it makes so, ctr-run --rm its pipeline's stages)." placeholder:"FD"`
}

func (c *ApplyCmd) Help() string {
	return `Reads an OCI runtime spec on stdin (from ns-enter spec, img-pull or fs-layer), creates
the cgroup /ctrkit/NAME with the limits of the flags and of the spec's linux.resources,
records it for removal (cg-limit rm NAME), and writes the spec to stdout with
linux.resources and linux.cgroupsPath filled in. ns-enter then starts the container in it:

  ns-enter spec --rootfs rootfs -- sh | cg-limit -m 64m --cpus 0.5 | ns-enter`
}

func (c *ApplyCmd) Run(g *cli.Globals, s *Stdio) error {
	doc, err := spec.FromStdin(s.Stdin)
	if err != nil {
		return err
	}
	if doc == nil {
		return errors.New("no runtime spec on stdin: pipe one in (ns-enter spec … | cg-limit -m 64m | ns-enter), or use cg-limit run/create (cg-limit --help)")
	}
	flags, err := c.Limits.Resources()
	if err != nil {
		return err
	}
	log := g.Log(tool, s.Stderr)
	if doc.Linux == nil {
		doc.Linux = &specs_Linux{}
	}
	res := merge(doc.Linux.Resources, flags)
	if res == nil {
		res = &specs.LinuxResources{}
	}
	if res.Devices, err = c.devices(res.Devices); err != nil {
		return err
	}
	res.Devices = allowNodes(res.Devices, doc.Linux.Devices)
	for _, what := range ignored(res) {
		log.Note("linux.resources.%s is left to the runtime: cg-limit does not apply it", what)
	}
	name := c.Name
	if name == "" {
		name = spec.ID(doc)
	}
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	// Recorded before it is made: a cg-limit killed in between leaves a
	// record that gc's undo (cg-limit rm NAME) forgets, never a cgroup
	// that nothing records.
	if err := h.Free(name); err != nil {
		return err
	}
	path := cgroup.Path(name)
	if err := spec.Record(doc, g.State, spec.Resource{Stage: tool, Kind: "cgroup", Name: path, Undo: []string{tool, "rm", name}}); err != nil {
		return err
	}
	cg, err := h.Create(log, name, res)
	if err != nil {
		spec.Forget(g.State, spec.ID(doc), tool, path)
		return err
	}
	if err := c.join(g, doc, cg); err != nil { // hold.go
		return err
	}
	doc.Linux.Resources = res
	doc.Linux.CgroupsPath = cg.Path()
	if err := spec.Write(s.Stdout, doc); err != nil || c.Hold == 0 {
		return err
	}
	return c.hold(g, s, doc, cg) // hold.go
}
