package lifecycle

// The supervisor: what stays with a running container. For a detached one
// that is `ctr-run supervise ID`, like containerd-shim or conmon; in the
// foreground it is ctr-run itself.
//
// A detached container's supervisor makes itself a child subreaper
// (prctl(PR_SET_CHILD_SUBREAPER, 1)) and runs `ns-enter --detach`: ns-enter
// sets the container up, writes its PID and exits once the process runs, as
// runc run -d does under a shim. The kernel then hands the orphaned
// container process to the nearest subreaper above it, the supervisor, which
// waits for it (wait4 through a pidfd) and records its exit status. So per
// container one small process stays, not two Go processes (ns-enter alone
// was 8–10 MiB resident). A container with a terminal (-t, through serve or
// create) keeps the older way: ns-enter stays and copies the terminal.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/fds"
	"ctrkit/internal/fsutil"
	"ctrkit/internal/proc"
	"ctrkit/internal/sibling"

	"golang.org/x/sys/unix"
)

// Detach starts a supervisor for the container, in a session of its own
// so it outlives ctr-run, and waits until the container runs (or failed).
// The supervisor is `ctr-run-supervise ID` (or self with args, `ctr-run
// supervise ID`, where that binary is missing): like containerd-shim or conmon,
// it keeps the container's output in STATE/ID/log, reaps it, records its
// exit status and restarts it as --restart says. With --explain, the
// supervisor's and ns-enter's steps come back through a pipe
// (CTRKIT_EXPLAIN_FD) and are copied to stderr, so the whole transcript is
// where the command was typed, not in the log.
func (c *Container) Detach(self string, args []string, env []string, stderr io.Writer) error {
	log, err := os.OpenFile(c.Path("supervisor.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	// The supervisor outlives us: it must not hold what our caller left
	// open (a pipe it waits on, a directory handle) for the container's life.
	if err := fds.CloseOnExec(3); err != nil {
		return err
	}
	// ctr-run-supervise is the same supervisor in a binary that links
	// little (ctr-run/supervise): it stays resident for the container's
	// life. Without it next to us, `ctr-run supervise ID` does the work.
	small := false
	if bin := Bin("ctr-run-supervise"); filepath.IsAbs(bin) {
		self, args, small = bin, []string{c.ID}, true
	}
	cmd := exec.Command(self, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, log, log
	if small {
		// One P from the start: every OS thread the runtime makes (for
		// each P, for blocking calls) stays for the process's life. It
		// drops the variable before running anything.
		cmd.Env = sibling.OneP(env)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if slices.Contains(env, "CTRKIT_EXPLAIN=1") {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		defer r.Close()
		cmd.ExtraFiles = []*os.File{w}
		cmd.Env = append(explain.WithoutFD(env), explain.FDEnv+"=3")
		copied := make(chan struct{})
		go func() { io.Copy(stderr, r); close(copied) }()
		defer func() {
			// EOF once ns-enter's container runs (or failed); a little
			// grace for the last lines after the container's PID shows.
			select {
			case <-copied:
			case <-time.After(5 * time.Second):
			}
		}()
	}
	err = cmd.Start()
	for _, f := range cmd.ExtraFiles {
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	id, err := proc.Of(cmd.Process.Pid)
	if err != nil {
		id = proc.ID{PID: cmd.Process.Pid}
	}
	if err := fsutil.WriteFile(c.Path("supervisor"), []byte(id.String()+"\n"), 0o600); err != nil {
		return err
	}
	cmd.Process.Release()
	policy, _ := ParseRestart(c.Restart)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c.PID() != 0 {
			return nil
		}
		if c.Exited() && (policy.Name == "no" || !id.Alive()) {
			var out strings.Builder
			c.Logs(&out, false)
			data, _ := os.ReadFile(c.Path("supervisor.log"))
			return fmt.Errorf("the container exited at once with status %d: %s%s", c.ExitCode(), out.String(), data)
		}
		if c.Exited() {
			return nil // its restart policy runs it again
		}
	}
	return fmt.Errorf("the container did not start within 30s: see %s", c.Path("supervisor.log"))
}

// Supervise is the body of `ctr-run supervise ID`: the container's output
// goes to STATE/ID/log, rotated as --log-opt says.
func (c *Container) Supervise(env []string) (int, error) {
	w, err := OpenLog(c.Path("log"), c.Log)
	if err != nil {
		return 125, err
	}
	defer w.Close()
	stdout, stderr := w.Stream("stdout"), w.Stream("stderr")
	defer stderr.Close()
	defer stdout.Close()
	env = explain.WithoutFD(env)
	explainFD := explain.FD() // ctr-run -d --explain reads it (Detach), until the first start
	detached := !c.tty()
	if detached {
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return 125, fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err)
		}
		if explainFD != nil {
			logFor(env, explainFD).Note("prctl(PR_SET_CHILD_SUBREAPER, 1): the container's process becomes ours when ns-enter --detach leaves it")
		}
	}
	return c.supervise(func(t *target) (int, error) {
		args := c.NsEnter
		if detached {
			args = append([]string{"--detach"}, args...)
		}
		cmd := exec.Command(Bin("ns-enter"), args...)
		cmd.Env = sibling.OneP(env)
		// Pipes of our own, not exec's: exec's copying would hold Wait
		// until the container closes them, and ns-enter leaves before.
		outR, outW, err := os.Pipe()
		if err != nil {
			return 125, err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return 125, err
		}
		cmd.Stdout, cmd.Stderr = outW, errW
		var copying sync.WaitGroup
		for _, s := range []struct {
			r *os.File
			w io.Writer
		}{{outR, stdout}, {errR, stderr}} {
			copying.Add(1)
			go func() {
				defer copying.Done()
				defer s.r.Close()
				// 4 KiB, not io.Copy's 32: the record is cut by lines
				// anyway, and the buffer stays resident for the container's
				// life. (The struct hides os.File's WriteTo, which would
				// take its own 32 KiB.)
				io.CopyBuffer(s.w, struct{ io.Reader }{s.r}, make([]byte, 4096))
			}()
		}
		if explainFD != nil {
			logFor(env, explainFD).Note("fork(); execve(%q): %s", cmd.Path, explain.Join(append([]string{"ns-enter"}, args...)))
			cmd.ExtraFiles = []*os.File{explainFD}
			cmd.Env = append(env, explain.FDEnv+"=3")
			explainFD = nil // runNsEnter closes it once ns-enter holds it
		}
		status, err := c.runNsEnter(cmd, t, detached, outW, errW)
		copying.Wait() // the container's last lines are in the log before its exit is
		return status, err
	}, env, os.Stderr)
}

// tty tells whether the container's process has a terminal (ns-enter -t),
// which ns-enter must stay to hold.
func (c *Container) tty() bool {
	for _, a := range c.NsEnter {
		if a == "--" {
			break
		}
		if a == "-t" || a == "--tty" {
			return true
		}
	}
	return false
}

// target is the process the supervisor's signals go to: ns-enter while it
// runs, then the container's process it left behind.
type target struct {
	mu sync.Mutex
	p  *os.Process
}

func (t *target) set(p *os.Process) {
	t.mu.Lock()
	t.p = p
	t.mu.Unlock()
}

func (t *target) signal(s os.Signal) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.p != nil {
		t.p.Signal(s)
	}
}

// supervise runs the container (once is one run, to its exit status),
// records the exit status, runs it again as the restart policy says, and
// removes the container when it was made with --rm.
func (c *Container) supervise(once func(*target) (int, error), env []string, stderr io.Writer) (int, error) {
	policy, err := ParseRestart(c.Restart)
	if err != nil {
		return 125, err
	}
	// Ctrl-C and Ctrl-\ reach ns-enter from the terminal itself (same
	// process group); the others are passed on, as docker run does.
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT)
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	var t target
	go func() {
		for s := range sigs {
			t.signal(s)
		}
	}()
	var status int
	for restarts, delay := 0, restartDelay; ; restarts++ {
		started := time.Now()
		if status, err = once(&t); err != nil {
			return status, err
		}
		Times.Add("ns-enter (start to exit)", started)
		if err := c.RecordExit(status); err != nil {
			return status, err
		}
		if !policy.Again(status, restarts) || c.has("stopped") {
			break
		}
		// docker's back-off: 100 ms, doubled after each quick exit, back
		// to 100 ms after a run of 10 s.
		if time.Since(started) >= 10*time.Second {
			delay = restartDelay
		}
		c.mark("restarting")
		for end := time.Now().Add(delay); time.Now().Before(end) && !c.has("stopped"); {
			time.Sleep(20 * time.Millisecond)
		}
		delay = min(2*delay, time.Minute)
		if c.has("stopped") {
			os.Remove(c.Path("restarting"))
			break
		}
		for _, f := range []string{"pid", "process", "exit"} {
			os.Remove(c.Path(f))
		}
		fsutil.WriteFile(c.Path("restarts"), []byte(strconv.Itoa(restarts+1)+"\n"), 0o600)
		os.Remove(c.Path("restarting"))
		fmt.Fprintf(stderr, "ctr-run: restarting %s (--restart %s): it exited with %d\n", c.Name, c.Restart, status)
	}
	if c.Rm {
		return status, c.Remove(env, stderr, false)
	}
	return status, nil
}

// runNsEnter starts cmd (ns-enter) and returns the container's exit status.
// Without detached, ns-enter stays the container's parent and its status
// is the container's. With detached (ns-enter --detach), ns-enter exits 0
// once the container runs, and the container's process, orphaned, is ours
// by then (we are its subreaper): we wait for it ourselves.
func (c *Container) runNsEnter(cmd *exec.Cmd, t *target, detached bool, closeAfterStart ...*os.File) (int, error) {
	err := cmd.Start()
	for _, f := range append(closeAfterStart, cmd.ExtraFiles...) {
		f.Close() // ns-enter has its copy
	}
	if err != nil {
		return 125, fmt.Errorf("start ns-enter: %w", err)
	}
	t.set(cmd.Process)
	done := make(chan struct{})
	if !detached {
		go c.recordProcess(done)
	}
	status := waitStatus(cmd.Wait())
	close(done)
	t.set(nil)
	if !detached || status != 0 {
		return status, nil // ns-enter's own failure (125, 126, 127) when detached
	}
	c.recordProcess(done) // written before ns-enter exited
	pid := readInt(c.Path("pid"))
	if pid <= 0 {
		fmt.Fprintf(os.Stderr, "ctr-run: ns-enter --detach exited 0 without writing %s\n", c.Path("pid"))
		return 125, nil
	}
	p, err := os.FindProcess(pid) // a pidfd: signals reach this process and no other
	if err != nil {
		return 125, nil
	}
	t.set(p)
	// What starting took (ns-enter's command line, the state files read
	// and written) is garbage now, and the wait may last for months: hand
	// the heap's free pages back to the kernel.
	debug.FreeOSMemory()
	ps, err := p.Wait()
	t.set(nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ctr-run: wait for the container's process %d: %v (is the supervisor its subreaper?)\n", pid, err)
		return 125, nil
	}
	return processStatus(ps), nil
}

// waitStatus turns cmd.Wait's result into a shell's status: the exit code,
// or 128+N for a process killed by signal N.
func waitStatus(err error) int {
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) {
		if err != nil {
			return 125
		}
		return 0
	}
	return processStatus(ee.ProcessState)
}

func processStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
