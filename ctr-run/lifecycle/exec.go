package lifecycle

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

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
	return Stage{"ns-enter", nsArgs}, execEnv, nil
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

// Logs copies the container's output to w; with follow, it keeps copying
// until the container has ended.
func (c *Container) Logs(w io.Writer, follow bool) error {
	f, err := os.Open(c.Path("log"))
	if os.IsNotExist(err) {
		return fmt.Errorf("container %s has no log: only detached containers (-d) keep one", c.Name)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		if !follow || c.Exited() && c.PID() == 0 {
			_, err := io.Copy(w, f) // what came in meanwhile
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// GC removes what crashes left behind: state of containers whose create
// never finished, and containers whose supervisor died, killing their
// process first. Containers that ended normally stay, as with docker,
// until ctr-run rm.
func GC(state string, env []string, stderr io.Writer) ([]string, error) {
	entries, err := os.ReadDir(state)
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		dir := filepath.Join(state, e.Name())
		if _, err := os.Stat(filepath.Join(dir, "resources.json")); err != nil {
			continue // not a container's state (e.g. net-bridge's STATE/net)
		}
		c, err := load(dir)
		if err != nil {
			c = &Container{Meta: Meta{ID: e.Name(), Name: e.Name()}, Dir: dir} // create crashed
		} else if !c.abandoned() {
			continue
		}
		if pid := c.PID(); pid != 0 {
			syscall.Kill(pid, syscall.SIGKILL)
			c.wait(10 * time.Second)
		}
		if err := c.Remove(env, stderr, true); err != nil {
			return removed, err
		}
		removed = append(removed, c.ID)
	}
	return removed, nil
}

// abandoned: no exit recorded, and the process that would record it (the
// supervisor, or the ctr-run running it in the foreground) is gone.
func (c *Container) abandoned() bool {
	if c.Exited() {
		return c.Rm // --rm, but the removal did not finish
	}
	sup := readInt(c.Path("supervisor"))
	return sup > 0 && !alive(sup)
}
