package main

// runc create, run and start (oci.go has the command line).

import (
	"ctrkit/internal/cli"
	"ctrkit/ns-enter/container"
	"ctrkit/ns-enter/runtime"
	"ctrkit/ns-enter/seccomp"
)

type OCICreateCmd struct {
	Bundle        string `short:"b" help:"The bundle: config.json and the root filesystem." default:"." type:"path" placeholder:"DIR"`
	PIDFile       string `name:"pid-file" help:"Write the container's process id to FILE." placeholder:"FILE"`
	ConsoleSocket string `help:"Send the terminal's master end to the unix socket at PATH." placeholder:"PATH"`
	NoPivot       bool   `help:"Switch the root with mount --move and chroot, not pivot_root (for a host running from its initramfs; weaker: see docs/09-oci-runtime.md)."`
	NoNewKeyring  bool   `help:"Keep the caller's session keyring."`
	PreserveFDs   int    `name:"preserve-fds" help:"Pass descriptors 3…3+N-1 to the container." placeholder:"N"`
	ID            string `arg:"" help:"The container's id."`
}

func (c *OCICreateCmd) Help() string {
	return `The container's process is made in its namespaces and cgroup, its root
filesystem mounted and switched to, and it waits, blocked opening ROOT/ID/exec.fifo
for writing, until ns-enter start opens it for reading. create returns then.`
}

func (c *OCICreateCmd) Run(o *OCI) error {
	return runtime.Create(o.Root, c.ID, c.options(o))
}

func (c *OCICreateCmd) options(o *OCI) runtime.CreateOptions {
	return runtime.CreateOptions{Bundle: c.Bundle, PIDFile: c.PIDFile, ConsoleSocket: c.ConsoleSocket,
		NoPivot: c.NoPivot, NoNewKeyring: c.NoNewKeyring, PreserveFDs: c.PreserveFDs + container.ListenFDs(),
		Log: o.log(), Explain: o.Explain || o.Debug, SeccompCache: seccomp.CacheDir(o.Store)}
}

type OCIRunCmd struct {
	OCICreateCmd
	Detach bool `short:"d" help:"Return once the container runs."`
}

func (c *OCIRunCmd) Run(o *OCI) error {
	if c.Detach {
		if err := runtime.Create(o.Root, c.ID, c.options(o)); err != nil {
			return err
		}
		return runtime.Start(o.Root, c.ID, o.log())
	}
	status, err := runtime.Run(o.Root, c.ID, c.options(o))
	if err != nil && status >= 125 {
		status = 1 // runc's own failures exit 1
	}
	if err != nil || status != 0 {
		return &cli.ExitError{Code: status, Err: err}
	}
	return nil
}

type OCIStartCmd struct {
	ID string `arg:"" help:"The container's id."`
}

func (c *OCIStartCmd) Run(o *OCI) error { return runtime.Start(o.Root, c.ID, o.log()) }
