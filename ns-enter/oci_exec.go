package main

// runc exec: a new process in a running container (oci.go has the command line).

import (
	"ctrkit/internal/cli"
	"ctrkit/internal/spec"
	"ctrkit/ns-enter/runtime"
	"ctrkit/ns-enter/seccomp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type OCIExecCmd struct {
	Process       string   `short:"p" help:"The process to run, as a runtime spec's process JSON (\"-\": stdin)." placeholder:"FILE"`
	TTY           bool     `short:"t" help:"Give the process a terminal."`
	ConsoleSocket string   `help:"Send the terminal's master end to the unix socket at PATH." placeholder:"PATH"`
	Detach        bool     `short:"d" help:"Return once the process runs."`
	PIDFile       string   `name:"pid-file" help:"Write the process's id to FILE." placeholder:"FILE"`
	Cwd           string   `help:"Working directory." placeholder:"DIR"`
	Env           []string `short:"e" help:"Add an environment variable." placeholder:"KEY=VALUE"`
	User          string   `short:"u" help:"UID[:GID]." placeholder:"UID[:GID]"`
	Cap           []string `short:"c" help:"Add a capability." placeholder:"CAP"`
	NoNewPrivs    bool     `help:"Set no_new_privs."`
	PreserveFDs   int      `name:"preserve-fds" help:"Pass descriptors 3…3+N-1 to the process." placeholder:"N"`
	ID            string   `arg:"" help:"The container's id."`
	Args          []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (without --process)."`
}

func (c *OCIExecCmd) Run(o *OCI) error {
	p, err := c.process(o)
	if err != nil {
		return err
	}
	status, err := runtime.Exec(o.Root, c.ID, runtime.ExecOptions{Process: p, Detach: c.Detach, PIDFile: c.PIDFile,
		ConsoleSocket: c.ConsoleSocket, PreserveFDs: c.PreserveFDs, Log: o.log(), Explain: o.Explain || o.Debug,
		SeccompCache: seccomp.CacheDir(o.Store)})
	if err != nil || status != 0 {
		return &cli.ExitError{Code: status, Err: err}
	}
	return nil
}

// process is the process to exec: --process, or the container's own with
// the flags applied (runtime.ExecProcess).
func (c *OCIExecCmd) process(o *OCI) (*specs.Process, error) {
	if c.Process != "" {
		var p specs.Process
		if err := spec.ReadPart("--process", c.Process, &p); err != nil {
			return nil, err
		}
		return &p, nil
	}
	f := runtime.ExecFlags{Args: c.Args, TTY: c.TTY, Cwd: c.Cwd, Env: c.Env, Caps: c.Cap, NoNewPrivs: c.NoNewPrivs}
	if len(f.Args) > 0 && f.Args[0] == "--" {
		f.Args = f.Args[1:]
	}
	if c.User != "" {
		u, err := parseRunAs(c.User)
		if err != nil {
			return nil, err
		}
		f.User = &u
	}
	return runtime.ExecProcess(o.Root, c.ID, f)
}
