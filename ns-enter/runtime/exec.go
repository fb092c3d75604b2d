package runtime

import (
	"errors"
	"fmt"
	"os"

	"ctrkit/internal/explain"
	"ctrkit/ns-enter/container"
	"ctrkit/ns-enter/namespace"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ExecOptions are runc exec's flags.
type ExecOptions struct {
	Process       *specs.Process
	Detach        bool
	PIDFile       string
	ConsoleSocket string
	PreserveFDs   int
	Log           *explain.Log
	Explain       bool
	SeccompCache  string // container.Options'
}

// Exec is runc exec: a new process in the running container's namespaces
// and cgroup, with the container's seccomp filter; the process document
// (--process, or the flags) says who it runs as and with what.
func Exec(root, id string, o ExecOptions) (int, error) {
	st, err := Load(root, id)
	if err != nil {
		return 125, err
	}
	if status := st.Status(Frozen); status != specs.StateRunning && status != specs.StateCreated {
		return 125, fmt.Errorf("container %s is %s: exec needs a running container", id, status)
	}
	c, err := st.Spec()
	if err != nil {
		return 125, err
	}
	s := container.ExecSpec(c)
	s.Process = o.Process
	s.Linux.Namespaces, err = joinAll(st.Pid)
	if err != nil {
		return 125, err
	}
	co := container.Options{
		Bundle: st.Bundle, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		PIDFile: o.PIDFile, PassFDs: o.PreserveFDs, ID: id, Detach: o.Detach,
		ConsoleSocket: o.ConsoleSocket, Explain: o.Explain, Log: o.Log, SeccompCache: o.SeccompCache,
	}
	if o.Detach {
		_, err := container.Start(s, co)
		if err != nil {
			return 125, err
		}
		return 0, nil
	}
	return container.Run(s, co)
}

// joinAll lists the namespaces of the container's process that differ
// from ours, to join by path.
func joinAll(pid int) ([]specs.LinuxNamespace, error) {
	theirs, err := namespace.Of(pid)
	if err != nil {
		return nil, err
	}
	ours, err := namespace.Of(os.Getpid())
	if err != nil {
		return nil, err
	}
	var out []specs.LinuxNamespace
	for i, e := range theirs {
		if e.Inode != ours[i].Inode {
			out = append(out, specs.LinuxNamespace{Type: e.Kind.OCI, Path: e.Kind.Path(pid)})
		}
	}
	return out, nil
}

// ExecFlags are runc exec's flags that shape the process when no
// --process document is given.
type ExecFlags struct {
	Args       []string
	TTY        bool
	Cwd        string
	Env        []string
	User       *specs.User // nil: the container's
	Caps       []string
	NoNewPrivs bool
}

// ExecProcess is the process runc exec runs without --process: the
// container's own (its user, capabilities, environment…, as ExecSpec keeps
// them) with the flags applied, as runc builds it.
func ExecProcess(root, id string, f ExecFlags) (*specs.Process, error) {
	if len(f.Args) == 0 {
		return nil, errors.New("exec: give a command, or --process FILE")
	}
	st, err := Load(root, id)
	if err != nil {
		return nil, err
	}
	s, err := st.Spec()
	if err != nil {
		return nil, err
	}
	p := *container.ExecSpec(s).Process
	p.Args, p.Terminal = f.Args, f.TTY
	p.Env = append(append([]string(nil), p.Env...), f.Env...)
	if f.Cwd != "" {
		p.Cwd = f.Cwd
	}
	if f.User != nil {
		p.User = *f.User
	}
	if f.NoNewPrivs {
		p.NoNewPrivileges = true
	}
	if len(f.Caps) > 0 && p.Capabilities != nil {
		caps := *p.Capabilities
		for _, set := range []*[]string{&caps.Bounding, &caps.Effective, &caps.Permitted} {
			*set = append(append([]string(nil), *set...), f.Caps...)
		}
		p.Capabilities = &caps
	}
	return &p, nil
}
