package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/fds"
	"ctrkit/internal/fsutil"
	"ctrkit/internal/mountinfo"
	"ctrkit/internal/spec"
)

// Env is the environment every stage runs with: ours, with --root,
// --state and --explain passed on as the variables every command reads.
func Env(root, state string, explainOn bool) []string {
	env := append(os.Environ(), "CTRKIT_ROOT="+root, "CTRKIT_STATE="+state)
	if explainOn {
		env = append(env, "CTRKIT_EXPLAIN=1")
	}
	return env
}

// logFor is the explain log of ctr-run itself, on when the stages' env asks
// them to explain too.
func logFor(env []string, w io.Writer) *explain.Log {
	return explain.New("ctr-run", w, slices.Contains(env, "CTRKIT_EXPLAIN=1"))
}

// Create prepares a container: the pipeline pulls the image if needed,
// mounts its layers, makes its cgroup and connects its network, and the
// document it ends with is saved as STATE/ID/config.json. When a stage
// fails, whatever the earlier ones made is removed again.
func Create(state string, o Options, env []string, stderr io.Writer) (*Container, error) {
	id := spec.NewID()
	name := o.Name
	if name == "" {
		name = id
	}
	c, err := New(state, Meta{ID: id, Name: name, Image: o.Image, Command: o.Cmd, Created: time.Now().UTC(), Rm: o.Rm})
	if err != nil {
		return nil, &ExitError{125, err}
	}
	p := o.Pipeline(id)
	logFor(env, stderr).Step("pipe(); fork(); execve() ×4", strings.ReplaceAll(p.Shell(c.Path("config.json")), " \\\n  ", " "))
	t0 := time.Now()
	doc, err := p.Run(env, stderr)
	Times.Add("pipeline (every stage started at once)", t0)
	if err == nil {
		err = fsutil.WriteFile(c.Path("config.json"), doc, 0o600)
	}
	if err != nil {
		if rmErr := c.Remove(env, stderr, true); rmErr != nil {
			fmt.Fprintf(stderr, "ctr-run: clean up after the failed create: %v\n", rmErr)
		}
		return nil, &ExitError{125, err}
	}
	s, err := spec.Parse(doc)
	if err != nil {
		return nil, &ExitError{125, fmt.Errorf("the pipeline's document: %w", err)}
	}
	if len(o.Cmd) == 0 && s.Process != nil {
		c.Command = s.Process.Args
	}
	c.NsEnter = o.NsEnter(c, Entrypoint(s)).Args
	err = c.Save()
	Times.Add("create: state saved", t0)
	return c, err
}

// Start runs the container in the foreground: ns-enter with our stdin,
// stdout and stderr, signals passed on, and our exit status is its.
func (c *Container) Start(env []string, stderr io.Writer) (int, error) {
	if err := fsutil.WriteFile(c.Path("supervisor"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		return 125, err
	}
	cmd := exec.Command(Bin("ns-enter"), c.NsEnter...)
	cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = env, os.Stdin, os.Stdout, stderr
	logFor(env, stderr).Step(fmt.Sprintf("fork(); execve(%q)", cmd.Path), explain.Join(append([]string{"ns-enter"}, c.NsEnter...)))
	return c.supervise(cmd, env, stderr)
}

// supervise runs ns-enter to its end, records the exit status, and removes
// the container when it was made with --rm.
func (c *Container) supervise(cmd *exec.Cmd, env []string, stderr io.Writer) (int, error) {
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return 125, fmt.Errorf("start ns-enter: %w", err)
	}
	// Ctrl-C and Ctrl-\ reach ns-enter from the terminal itself (same
	// process group); the others are passed on, as docker run does.
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	Times.Add("ns-enter (start to exit)", t0)
	signal.Stop(sigs)
	status := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return 125, err
		}
		status = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			status = 128 + int(ws.Signal())
		}
	}
	if err := c.RecordExit(status); err != nil {
		return status, err
	}
	if c.Rm {
		return status, c.Remove(env, stderr, false)
	}
	return status, nil
}

// Detach starts a supervisor for the container, in a session of its own
// so it outlives ctr-run, and waits until the container runs (or failed).
// The supervisor is `ctr-run supervise ID`: like containerd-shim or conmon,
// it keeps the container's output in STATE/ID/log, reaps it and records
// its exit status.
func (c *Container) Detach(self string, args []string, env []string) error {
	log, err := os.OpenFile(c.Path("log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	// The supervisor outlives us: it must not hold what our caller left
	// open (a pipe it waits on, a directory handle) for the container's life.
	if err := fds.CloseOnExec(3); err != nil {
		return err
	}
	cmd := exec.Command(self, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	if err := fsutil.WriteFile(c.Path("supervisor"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		return err
	}
	cmd.Process.Release()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c.PID() != 0 {
			return nil
		}
		if c.Exited() {
			data, _ := os.ReadFile(c.Path("log"))
			return fmt.Errorf("the container exited at once with status %d: %s", c.ExitCode(), data)
		}
	}
	return fmt.Errorf("the container did not start within 30s: see %s", c.Path("log"))
}

// Supervise is the body of `ctr-run supervise ID`; its stdout and stderr
// are the container's log.
func (c *Container) Supervise(env []string) (int, error) {
	cmd := exec.Command(Bin("ns-enter"), c.NsEnter...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, os.Stdout, os.Stderr
	return c.supervise(cmd, env, os.Stderr)
}

// Signal sends sig to the container's process.
func (c *Container) Signal(sig syscall.Signal) error {
	pid := c.PID()
	if pid == 0 {
		return fmt.Errorf("container %s is not running (%s)", c.Name, c.Status())
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("kill -%d %d: %w", sig, pid, err)
	}
	return nil
}

// Stop sends sig (TERM by default) and, if the container is still running
// after timeout, KILL, which no process can ignore. (A program that is
// PID 1 of its pid namespace ignores TERM unless it handles it.)
func (c *Container) Stop(sig syscall.Signal, timeout time.Duration) error {
	if c.PID() == 0 {
		return nil
	}
	if err := c.Signal(sig); err != nil {
		return err
	}
	if c.wait(timeout) {
		return nil
	}
	if err := c.Signal(syscall.SIGKILL); err != nil && c.PID() != 0 {
		return err
	}
	if !c.wait(10 * time.Second) {
		return fmt.Errorf("container %s did not end within 10 s of SIGKILL: a process stuck in the kernel (state D in ps; see /proc/%d/stack) ends only when the kernel lets it", c.Name, c.PID())
	}
	return nil
}

func (c *Container) wait(d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c.PID() == 0 {
			return true
		}
	}
	return false
}

// Remove undoes, newest first, everything the stages recorded in
// STATE/ID/resources.json (each with the command that removes it:
// net-bridge detach, cg-limit rm, fs-layer rm), then deletes the state.
// A running container is refused unless force, which kills it first.
func (c *Container) Remove(env []string, stderr io.Writer, force bool) error {
	if c.PID() != 0 {
		if !force {
			return fmt.Errorf("container %s is running: stop it first (ctr-run stop %s) or use rm -f", c.Name, c.Name)
		}
		if err := c.Stop(syscall.SIGKILL, 10*time.Second); err != nil {
			return err
		}
	}
	if sup := readInt(c.Path("supervisor")); sup > 0 && sup != os.Getpid() {
		// The supervisor records the exit and then may be removing too.
		for i := 0; i < 100 && alive(sup); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	rs, err := spec.StateResources(stateOf(c), c.ID)
	if err != nil {
		return err
	}
	// The steps undo independent things (a network attachment, a cgroup,
	// a mount), so they run at once: three process starts in the time of
	// one. They are still explained newest first, each as the command that
	// does it alone: one after the other, a shell gets the same result.
	var undos [][]string
	done := map[string]bool{}
	for i := len(rs) - 1; i >= 0; i-- {
		undo := rs[i].Undo
		if len(undo) == 0 || done[fmt.Sprint(undo)] {
			continue
		}
		done[fmt.Sprint(undo)] = true
		undos = append(undos, undo)
	}
	errs := make([]error, len(undos))
	var wg sync.WaitGroup
	for i, undo := range undos {
		cmd := exec.Command(Bin(undo[0]), undo[1:]...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, stderr, stderr
		logFor(env, stderr).Step(fmt.Sprintf("fork(); execve(%q)", cmd.Path), explain.Join(undo))
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			if err := cmd.Run(); err != nil {
				errs[i] = fmt.Errorf("%s: %w", explain.Join(undo), err)
			}
			Times.Add(stepName("rm: ", undo), t0)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove container %s: %w (its state stays in %s; ctr-run gc tries again)", c.Name, err, c.Dir)
	}
	// rm -rf would walk into a mount and delete what is mounted there.
	if m, _ := mountinfo.Below(c.Dir); m != "" {
		return fmt.Errorf("remove container %s: %s is still mounted; unmount it (umount %s) and run ctr-run gc", c.Name, m, m)
	}
	return os.RemoveAll(c.Dir)
}

// ExitError carries the status ctr-run should exit with.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }
func (e *ExitError) ExitCode() int { return e.Code }
