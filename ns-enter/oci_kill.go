package main

// runc kill and delete (oci.go has the command line).

import (
	"ctrkit/internal/signame"
	"ctrkit/ns-enter/runtime"
)

type OCIKillCmd struct {
	All    bool   `short:"a" help:"Signal every process in the container's cgroup."`
	ID     string `arg:"" help:"The container's id."`
	Signal string `arg:"" optional:"" default:"SIGTERM" help:"By name or number (default SIGTERM)."`
}

func (c *OCIKillCmd) Run(o *OCI) error {
	sig, err := signame.Parse(c.Signal)
	if err != nil {
		return err
	}
	return runtime.Kill(o.Root, c.ID, sig, c.All)
}

type OCIDeleteCmd struct {
	Force bool   `short:"f" help:"Kill the container's processes first."`
	ID    string `arg:"" help:"The container's id."`
}

func (c *OCIDeleteCmd) Run(o *OCI) error {
	if _, err := runtime.Load(o.Root, c.ID); err != nil && c.Force {
		return nil // runc delete --force of what is gone already succeeds
	}
	return runtime.Delete(o.Root, c.ID, c.Force, o.log())
}
