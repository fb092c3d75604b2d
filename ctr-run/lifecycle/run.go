package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/internal/fsutil"
	"ctrkit/internal/mountinfo"
	"ctrkit/internal/proc"
	"ctrkit/internal/sibling"
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
	c, err := New(state, Meta{ID: id, Name: name, Image: o.Image, Command: o.Cmd, Created: time.Now().UTC(), Rm: o.Rm,
		Restart: o.Restart, Log: o.Log})
	if err != nil {
		return nil, &exitcode.Error{Code: 125, Err: err}
	}
	p := o.Pipeline(id)
	// A note, not a step: each stage explains its own steps, and those are
	// what a transcript replays (the pipeline again would redo them).
	logFor(env, stderr).Note("pipe(); fork(); execve() ×4: %s", strings.ReplaceAll(p.Shell(c.Path("config.json")), " \\\n  ", " "))
	t0 := time.Now()
	var doc []byte
	if o.Hold {
		doc, c.held, err = p.RunHolding(env, stderr)
	} else {
		doc, err = p.Run(env, stderr)
	}
	Times.Add("pipeline (every stage started at once)", t0)
	if err == nil {
		err = fsutil.WriteFile(c.Path("config.json"), doc, 0o600)
	}
	if err != nil {
		if rmErr := c.Remove(env, stderr, true); rmErr != nil {
			fmt.Fprintf(stderr, "ctr-run: clean up after the failed create: %v\n", rmErr)
		}
		return nil, &exitcode.Error{Code: 125, Err: err}
	}
	h, err := readHead(doc) // doc.go: ns-enter reads the whole document
	if err != nil {
		return nil, &exitcode.Error{Code: 125, Err: err}
	}
	if len(o.Cmd) == 0 {
		c.Command = h.args()
	}
	c.NsEnter = o.NsEnter(c, h.entrypoint()).Args
	if err := c.Save(); err != nil {
		return nil, err
	}
	Times.Add("create: state saved", t0)
	return c, os.Remove(c.Path("creator")) // create is done: the lease ends
}

// Start runs the container in the foreground: ns-enter with our stdin,
// stdout and stderr, signals passed on, and our exit status is its.
func (c *Container) Start(env []string, stderr io.Writer) (int, error) {
	if err := fsutil.WriteFile(c.Path("supervisor"), []byte(proc.Self().String()+"\n"), 0o600); err != nil {
		return 125, err
	}
	logFor(env, stderr).Note("fork(); execve(%q): %s", Bin("ns-enter"), explain.Join(append([]string{"ns-enter"}, c.NsEnter...)))
	return c.supervise(func(t *target) (int, error) {
		cmd := exec.Command(Bin("ns-enter"), c.NsEnter...)
		cmd.Env, cmd.Stdin, cmd.Stdout, cmd.Stderr = sibling.OneP(env), os.Stdin, os.Stdout, stderr
		return c.runNsEnter(cmd, t, false)
	}, env, stderr)
}

// Signal sends sig to the container's process, and to no other: through a
// pidfd, after its start time matched (see internal/proc).
func (c *Container) Signal(sig syscall.Signal) error {
	id := c.Process()
	if id.PID == 0 {
		return fmt.Errorf("container %s is not running (%s)", c.Name, c.Status())
	}
	if err := id.Signal(sig); err != nil {
		return fmt.Errorf("kill -%d %d: %w", sig, id.PID, err)
	}
	if c.has("paused") && (sig == syscall.SIGKILL || sig == syscall.SIGTERM) {
		return c.Unpause(nil) // a frozen process handles no signal
	}
	return nil
}

// Stop marks the container stopped (its restart policy no longer applies),
// sends sig (TERM by default) and, if the container is still running after
// timeout, KILL, which no process can ignore. (A program that is PID 1 of
// its pid namespace ignores TERM unless it handles it.)
func (c *Container) Stop(sig syscall.Signal, timeout time.Duration) error {
	if err := c.mark("stopped"); err != nil {
		return err
	}
	if c.PID() == 0 {
		c.waitSupervisor() // between two runs of a restart policy
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

// wait waits until the container's process has ended, d at most: on a
// pidfd (internal/proc), so stop and rm -f return the moment it has.
func (c *Container) wait(d time.Duration) bool {
	for deadline := time.Now().Add(d); ; {
		id := c.Process()
		if id.PID == 0 {
			return true
		}
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		// Its state is read again at least every 100 ms: the process
		// we wait on is the one it names.
		id.Wait(min(left, 100*time.Millisecond))
	}
}

// waitSupervisor waits a little for a supervisor in its restart back-off
// to see the stopped mark and end.
func (c *Container) waitSupervisor() {
	sup := c.readID("supervisor")
	for i := 0; i < 100 && sup.PID != os.Getpid() && sup.Alive() && c.has("restarting"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

// Remove undoes, newest first, everything the stages recorded in
// STATE/ID/resources.json (each with the command that removes it:
// net-bridge detach, cg-limit rm, fs-layer rm), then deletes the state.
// A running container is refused unless force, which kills it first.
func (c *Container) Remove(env []string, stderr io.Writer, force bool) error {
	if creator := c.readID("creator"); creator.PID != os.Getpid() && creator.Alive() {
		return fmt.Errorf("container %s is being created by ctr-run %s: wait until it is, or kill that process and run ctr-run gc", c.Name, creator)
	}
	if c.PID() != 0 || c.has("restarting") {
		if !force {
			return fmt.Errorf("container %s is running: stop it first (ctr-run stop %s) or use rm -f", c.Name, c.Name)
		}
		if err := c.Stop(syscall.SIGKILL, 10*time.Second); err != nil {
			return err
		}
	}
	if sup := c.readID("supervisor"); sup.PID > 0 && sup.PID != os.Getpid() {
		sup.Wait(2 * time.Second) // it records the exit, and then may be removing too
	}
	// Stages that hold what they made remove it themselves, on "rm":
	// no process start each. One that fails leaves its record, so its rm
	// command below tries again.
	done := map[string]bool{}
	if c.held != nil {
		t0 := time.Now()
		for _, rm := range c.held.Release(logFor(env, stderr)) {
			done[fmt.Sprint(rm)] = true
		}
		c.held = nil
		Times.Add("rm: the held stages, at once", t0)
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
		cmd.Env, cmd.Stdout, cmd.Stderr = sibling.OneP(env), stderr, stderr
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
