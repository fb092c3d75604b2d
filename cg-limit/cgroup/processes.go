package cgroup

// The processes of a cgroup: joining it, starting a command inside it,
// freezing, killing, and removing the cgroup once it is empty.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/kernel"

	"golang.org/x/sys/unix"
)

// Add moves process pid, with all its threads, into the cgroup in every
// hierarchy: echo PID > cgroup.procs.
func (c *Cgroup) Add(pid int) error {
	for _, d := range c.Dirs() {
		if err := c.write(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			if errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("no process %d: %w", pid, err)
			}
			return err
		}
	}
	return nil
}

// Procs lists the processes in the cgroup, in any of its hierarchies.
func (c *Cgroup) Procs() ([]int, error) {
	seen := map[int]bool{}
	var pids []int
	for _, d := range c.Dirs() {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			return nil, err
		}
		for _, f := range strings.Fields(string(data)) {
			if p, err := strconv.Atoi(f); err == nil && !seen[p] {
				seen[p] = true
				pids = append(pids, p)
			}
		}
	}
	sort.Ints(pids)
	return pids, nil
}

// Start starts cmd inside the cgroup, so that its very first instruction
// already runs there, and without moving a process by its PID: writing a
// PID into cgroup.procs takes the lock every fork and exit in the system
// takes for reading (cgroup_threadgroup_rwsem), and taking it for writing
// waits for an RCU grace period, milliseconds here (docs/bench.md). So the
// command is born inside instead:
//
//   - on cgroup v2, clone3's CLONE_INTO_CGROUP forks it straight into the
//     cgroup (Linux 5.7);
//   - v1 has no such flag: the command starts behind a gate, a shell that
//     moves itself into every hierarchy (echo 0 > tasks: "0" is the writer,
//     and one thread moving itself takes no such lock) and then becomes
//     the command. On a v2 kernel older than 5.7 the gate moves itself
//     into v2 too (echo 0 > cgroup.procs: slower, but inside all the same).
func (c *Cgroup) Start(cmd *exec.Cmd) error {
	args := cmd.Args
	unified := ""
	if c.host.Unified != "" {
		unified = filepath.Join(c.host.Unified, c.Path())
	}
	var tasks, procs []string // what the gate writes 0 to: v1's, and v2's on an old kernel
	into := ""
	for _, d := range c.Dirs() {
		switch {
		case d != unified:
			tasks = append(tasks, filepath.Join(d, "tasks"))
		case kernel.CloneIntoCgroup():
			into = d
		default:
			procs = append(procs, filepath.Join(d, "cgroup.procs"))
		}
	}
	if into != "" {
		fd, err := unix.Open(into, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", into, err)
		}
		defer unix.Close(fd)
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	shell := explain.Join(args)
	if joins := append(tasks, procs...); len(joins) > 0 {
		gate := append([]string{"sh", "-c", joinGate, "sh"}, joins...)
		cmd.Path, cmd.Args = "/bin/sh", append(append(gate, "--"), args...)
		shell = explain.Join(cmd.Args)
	}
	call := "fork()"
	if into != "" {
		call = fmt.Sprintf("clone3(CLONE_INTO_CGROUP, open(%q))", into)
	}
	if len(tasks) > 0 {
		call += fmt.Sprintf("; write(\"tasks\", \"0\") ×%d", len(tasks))
	}
	if len(procs) > 0 {
		call += `; write("cgroup.procs", "0")`
	}
	c.log.Step(fmt.Sprintf("%s; execve(%q)", call, args[0]), shell)
	if err := cmd.Start(); err != nil {
		if into != "" {
			return fmt.Errorf("start %s inside %s (clone3, CLONE_INTO_CGROUP): %w", args[0], into, err)
		}
		return fmt.Errorf("start %s: %w", args[0], err)
	}
	return nil
}

// joinGate writes 0 to each file named before "--" (tasks, or cgroup.procs
// on an old v2 kernel), then becomes the command after it. A write that
// fails (a full cpuset, a hierarchy gone) stops it with 125, as a failure
// of cg-limit's own.
const joinGate = `while [ "$1" != -- ]; do echo 0 > "$1" || { echo "cg-limit: could not join the cgroup: $1" >&2; exit 125; }; shift; done; shift; exec "$@"`

// Run starts cmd in the cgroup (Start), passes SIGINT, SIGTERM, SIGHUP and
// SIGQUIT on to it, waits for it and returns its status as a shell tells
// it: the exit code, 128+N when signal N ended it (137 for the OOM killer's
// SIGKILL), 125 when waiting failed. An error means it did not start.
func (c *Cgroup) Run(cmd *exec.Cmd) (int, error) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := c.Start(cmd); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		code = ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	case werr != nil:
		code = 125
	}
	return code, nil
}

// Freeze stops every process of the cgroup where it stands; they use no
// CPU and cannot be scheduled until Thaw. v2: cgroup.freeze (Linux 5.2);
// v1: the freezer controller's freezer.state.
func (c *Cgroup) Freeze() error { return c.setFrozen(true) }

// Thaw lets the processes of a frozen cgroup run again.
func (c *Cgroup) Thaw() error { return c.setFrozen(false) }

func (c *Cgroup) setFrozen(on bool) error {
	d, v2 := c.dir("freezer")
	if d == "" {
		return errors.New("no freezer: cgroup v1 without a freezer hierarchy (mount -t cgroup -o freezer none /sys/fs/cgroup/freezer)")
	}
	file, val := "freezer.state", map[bool]string{true: "FROZEN", false: "THAWED"}[on]
	if v2 {
		file, val = "cgroup.freeze", map[bool]string{true: "1", false: "0"}[on]
	}
	if err := c.write(filepath.Join(d, file), val); err != nil {
		return err
	}
	// Freezing takes effect process by process; wait until all are. v1's
	// freezer can stay FREEZING while new processes keep appearing (a
	// shell loop forking): thawing for a moment and freezing again every
	// half second improves the chances, as runc does while it waits.
	for i := 1; i <= 500; i++ {
		if f, err := c.Frozen(); err != nil || f == on {
			return err
		}
		if on && !v2 && i%50 == 0 {
			c.write(filepath.Join(d, file), "THAWED")
			time.Sleep(10 * time.Millisecond)
			c.write(filepath.Join(d, file), "FROZEN")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if on { // nothing half-made: a cgroup left freezing would stop its processes one by one
		thawed := map[bool]string{true: "0", false: "THAWED"}[v2]
		c.write(filepath.Join(d, file), thawed)
	}
	return fmt.Errorf("cgroup %s did not become %s within 5 s (a process in an uninterruptible wait, D in ps, holds it up): try again", c.Path(), strings.ToLower(val))
}

// Frozen tells whether every process of the cgroup is frozen.
func (c *Cgroup) Frozen() (bool, error) {
	d, v2 := c.dir("freezer")
	if d == "" {
		return false, nil
	}
	if v2 {
		ev, err := readKeyed(filepath.Join(d, "cgroup.events"))
		return ev["frozen"] == 1, err
	}
	data, err := os.ReadFile(filepath.Join(d, "freezer.state"))
	return strings.TrimSpace(string(data)) == "FROZEN", err
}

// Kill sends sig to every process of the cgroup. On cgroup v2 (Linux 5.14)
// SIGKILL is one write, "1" into cgroup.kill. Otherwise the cgroup is
// frozen first, so that no process can fork a child we would miss, each
// process is signalled, and the cgroup is thawed. After SIGKILL, Kill waits
// until the cgroup is empty.
func (c *Cgroup) Kill(sig syscall.Signal) error {
	d, v2 := c.dir("freezer")
	if v2 && sig == syscall.SIGKILL {
		if _, err := os.Stat(filepath.Join(d, "cgroup.kill")); err == nil {
			if err := c.write(filepath.Join(d, "cgroup.kill"), "1"); err != nil {
				return err
			}
			return c.waitEmpty()
		}
	}
	// Freezing first stops a process from forking a child that the loop
	// below would miss. Only on v2: under v1's freezer a kill racing a
	// freeze has locked guest kernels up (seen on 6.1 under emulation), so
	// there the signal simply goes round again until the cgroup is empty.
	frozen := false
	if d != "" && v2 {
		if f, _ := c.Frozen(); !f {
			if err := c.Freeze(); err == nil {
				frozen = true
			}
		}
	}
	pids, err := c.Procs()
	if err != nil {
		return err
	}
	for _, p := range pids {
		c.log.Step(fmt.Sprintf("kill(%d, %s)", p, unix.SignalName(sig)), fmt.Sprintf("kill -%s %d", strings.TrimPrefix(unix.SignalName(sig), "SIG"), p))
		if err := unix.Kill(p, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %d: %w", p, err)
		}
	}
	if frozen {
		if err := c.Thaw(); err != nil {
			return err
		}
	}
	if d != "" && !v2 && sig == syscall.SIGKILL {
		// A frozen process takes no signal, SIGKILL included, until it is
		// thawed: thaw a v1 cgroup (frozen by cg-limit freeze) once the
		// signals are sent, so its processes die without running again.
		if state, err := os.ReadFile(filepath.Join(d, "freezer.state")); err == nil && strings.TrimSpace(string(state)) != "THAWED" {
			if err := c.write(filepath.Join(d, "freezer.state"), "THAWED"); err != nil {
				return err
			}
		}
	}
	if sig == syscall.SIGKILL {
		return c.waitEmpty()
	}
	return nil
}

// waitEmpty waits up to 5 s for the cgroup to empty after SIGKILL, killing
// again, every 100 ms, any process that forked after the signal went round.
func (c *Cgroup) waitEmpty() error {
	for i := 0; i < 500; i++ {
		ps, err := c.Procs()
		if err != nil || len(ps) == 0 {
			return err
		}
		if i > 0 && i%10 == 0 {
			for _, p := range ps { // forked after the last round
				unix.Kill(p, unix.SIGKILL)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	ps, _ := c.Procs()
	return fmt.Errorf("cgroup %s still has processes %v after SIGKILL", c.Path(), ps)
}

// Remove deletes the cgroup's directories (rmdir; the files in them are
// not real files and need no removing), then /ctrkit where it is left
// empty (the ancestors of a cgroup given by path belong to whoever named
// them, as with runc). A cgroup that still has processes cannot be removed.
func (c *Cgroup) Remove() error {
	if ps, err := c.Procs(); err == nil && len(ps) > 0 {
		return fmt.Errorf("cgroup %s still has processes %v: end them with cg-limit kill %s", c.Path(), ps, c.Name)
	}
	var errs []error
	for _, d := range c.Dirs() {
		var err error
		// A process that just exited may keep the cgroup busy for a moment.
		for i := 0; i < 100; i++ {
			if err = c.rmdir(d); !errors.Is(err, unix.EBUSY) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, m := range c.host.Mounts() {
		p := filepath.Join(m, Parent)
		if es, err := os.ReadDir(p); err == nil && !hasDirs(es) {
			c.rmdir(p) // another cg-limit may be using it: best effort
		}
	}
	return errors.Join(errs...)
}

func hasDirs(es []os.DirEntry) bool {
	for _, e := range es {
		if e.IsDir() {
			return true
		}
	}
	return false
}
