package lifecycle

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Spec reads the container's config.json.
func (c *Container) Spec() (*specs.Spec, error) {
	data, err := os.ReadFile(c.Path("config.json"))
	if err != nil {
		return nil, fmt.Errorf("container %s has no spec: %w", c.Name, err)
	}
	return spec.Parse(data)
}

// ExecOptions are docker exec's flags.
type ExecOptions struct {
	Interactive, TTY, Privileged bool
	Env                          []string
	Workdir, User                string
}

// Exec is `docker exec`: ns-enter joins the namespaces of the container's
// process (--target) and, like runc exec, runs args with the container's own
// process settings from its spec: user, capabilities, no_new_privs, seccomp
// filter, environment, working directory and cgroup. The flags change only
// what they name; --privileged gives the process everything back.
func (c *Container) Exec(args []string, o ExecOptions, env []string) (Stage, []string, error) {
	pid := c.PID()
	if pid == 0 {
		return Stage{}, nil, &exitcode.Error{Code: 125, Err: fmt.Errorf("container %s is not running (%s): exec needs a running container", c.Name, c.Status())}
	}
	nsArgs := append([]string{"--target", fmt.Sprint(pid), "--spec", c.Path("config.json")}, c.processFlags()...)
	for _, e := range o.Env {
		nsArgs = append(nsArgs, "-e", e)
	}
	if o.Workdir != "" {
		nsArgs = append(nsArgs, "-w", o.Workdir)
	}
	if o.User != "" {
		nsArgs = append(nsArgs, "-u", o.User)
	}
	for _, f := range []struct {
		on   bool
		flag string
	}{{o.Interactive, "-i"}, {o.TTY, "-t"}, {o.Privileged, "--privileged"}} {
		if f.on {
			nsArgs = append(nsArgs, f.flag)
		}
	}
	nsArgs = append(append(nsArgs, "--"), args...)
	var execEnv []string // only what the commands read: the spec has the container's
	for _, e := range env {
		if strings.HasPrefix(e, "CTRKIT_") {
			execEnv = append(execEnv, e)
		}
	}
	return Stage{Command: "ns-enter", Args: nsArgs}, execEnv, nil
}

// processFlags are the flags of the container's own ns-enter command that
// describe its process rather than its namespaces (docker run's -u, -e, -w,
// --privileged, --security-opt): they are part of the container's process
// settings, so exec gives them too, before its own flags, which win.
func (c *Container) processFlags() []string {
	var out []string
	args := c.NsEnter
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--":
			return out
		case "-u", "-e", "-w", "--seccomp":
			if i+1 < len(args) {
				out = append(out, args[i], args[i+1])
				i++
			}
		case "--privileged", "--no-new-privs":
			out = append(out, args[i])
		}
	}
	return out
}

// RunStage runs one stage with our stdio and returns its exit status.
func RunStage(st Stage, env []string) (int, error) {
	cmd := exec.Command(Bin(st.Command), st.Args...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 125, err
	}
	return 0, nil
}
