package main

// runc pause, resume and update: the container's cgroup, through cg-limit (oci.go has the command line).

import (
	"errors"

	"ctrkit/internal/spec"
	"ctrkit/ns-enter/runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type OCIPauseCmd struct {
	ID string `arg:"" help:"The container's id."`
}

func (c *OCIPauseCmd) Run(o *OCI) error { return runtime.Pause(o.Root, c.ID, o.log()) }

type OCIResumeCmd struct {
	ID string `arg:"" help:"The container's id."`
}

func (c *OCIResumeCmd) Run(o *OCI) error { return runtime.Resume(o.Root, c.ID, o.log()) }

type OCIUpdateCmd struct {
	Resources string `short:"r" help:"The new limits as OCI linux.resources JSON (\"-\": stdin)." placeholder:"FILE"`
	ID        string `arg:"" help:"The container's id."`
}

func (c *OCIUpdateCmd) Run(o *OCI) error {
	if c.Resources == "" {
		return errors.New("update: give --resources FILE (or - for stdin) with OCI linux.resources JSON")
	}
	var r specs.LinuxResources
	if err := spec.ReadPart("--resources", c.Resources, &r); err != nil {
		return err
	}
	return runtime.Update(o.Root, c.ID, &r, o.log())
}
