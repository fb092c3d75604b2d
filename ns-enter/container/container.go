// Package container runs an OCI runtime spec: new or joined namespaces, a
// root filesystem switched with pivot_root, mounts, /dev, the process's
// identity and capabilities, and its exit status.
//
// Starting a container takes two processes, because some of the work must
// be done from outside and some from inside:
//
//	ns-enter (stage 0, outside)          ns-enter init (stage 1, inside)
//	─────────────────────────            ───────────────────────────────
//	clone(CLONE_NEWPID|CLONE_NEWNS…) ──► born in the new namespaces;
//	                                     the setns constructor joins the
//	                                     spec's existing namespaces
//	write uid_map / gid_map              (blocked until the maps exist)
//	echo PID > cgroup.procs
//	send the spec on fd 3 ─────────────► read it; mount, pivot_root,
//	                                     hostname, rlimits, setuid, caps
//	read fd 4 until EOF ◄─────────────── execve(process.args): fd 4 is
//	                                     close-on-exec, so EOF = started,
//	                                     an error message = it failed
//	wait, forward signals, exit status
//
// Stage 1 is ns-enter itself, re-executed (from a read-only handle of its
// own binary, hygiene.go) with _CTRKIT_STAGE=init: after execve it becomes
// the container's process, so the container's PID 1 is the user's command,
// as with runc.
//
// runc create splits that in two (Start with Options.ExecFifo): once set
// up, stage 1 closes fd 4 (so create returns) and blocks opening the exec
// fifo for writing; ns-enter start opens its read end, and stage 1 goes on
// to execve. The OCI hooks run at their moments around these steps.
package container

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"ctrkit/internal/explain"
	"ctrkit/internal/fsutil"
	"ctrkit/ns-enter/namespace"
	"ctrkit/ns-enter/setns"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// StageEnv marks the re-executed ns-enter that becomes the container.
const StageEnv = "_CTRKIT_STAGE"

// Options say how ns-enter runs a spec, beyond the spec itself.
type Options struct {
	Bundle  string   // directory a relative root.path and bind sources are resolved in
	Stdin   *os.File // the container's stdin (nil: /dev/null)
	Stdout  *os.File
	Stderr  *os.File
	Init    bool   // run a tiny PID 1 that reaps zombies, like docker --init
	PIDFile string // where to write the container's PID once it runs (runc's --pid-file)
	// PassFDs passes descriptors 3…3+PassFDs-1 to the container (runc's
	// --preserve-fds plus LISTEN_FDS); every other one is closed on exec.
	PassFDs      int
	NoNewKeyring bool // keep the caller's session keyring (runc's --no-new-keyring)
	// ID names the container (runc's container id) in the hooks' state and
	// the keyring; default: the document's ctrkit.id annotation.
	ID string
	// ExecFifo makes the container wait, set up, before its execve until
	// the fifo at this path is opened for reading: runc create's exec.fifo.
	ExecFifo string
	// Detach returns from Start without keeping anything of the container:
	// runc create, and exec --detach.
	Detach bool
	// ConsoleSocket is a unix socket the terminal's master end is sent to
	// (SCM_RIGHTS) instead of being copied to stdio: runc's --console-socket.
	ConsoleSocket string
	Explain       bool
	Log           *explain.Log
}

// initConfig is what stage 0 sends stage 1 over fd 3.
type initConfig struct {
	Spec   *specs.Spec `json:"spec"`
	Rootfs string      `json:"rootfs,omitempty"` // absolute; "" keeps the current root
	Mounts bool        `json:"mounts"`           // set up the new mount namespace
	UTS    bool        `json:"uts"`              // set the hostname
	UserNS bool        `json:"userns"`           // inside a user namespace: no mknod
	// Unshare are the namespaces stage 1 makes itself, with unshare(2),
	// before anything else (late.go): the cgroup and time namespaces.
	Unshare uintptr `json:"unshare,omitempty"`
	// BindFDs are descriptors of bind sources (index in mounts → fd),
	// for a root inside that cannot reach them by path (userns.go).
	BindFDs map[int]int  `json:"bindFDs,omitempty"`
	Fork    bool         `json:"fork"` // fork the process and wait, instead of exec
	Explain bool         `json:"explain"`
	Console unix.Winsize `json:"console"` // the terminal's size, with -t
	PassFDs int          `json:"passFDs"` // descriptors from 3 up for the container; ours follow them
	// Keyring: "new" joins a new session keyring, "join" the running
	// container's (exec), "" keeps the caller's.
	Keyring string `json:"keyring,omitempty"`
	ID      string `json:"id,omitempty"` // the container's id, for the keyring's name
	// ExecFifo is the descriptor of the exec fifo (0: none): wait on it,
	// set up, until ns-enter start opens it.
	ExecFifo int `json:"execFifo,omitempty"`
	// State is the hooks' state document: createContainer and
	// startContainer hooks run in stage 1.
	State specs.State `json:"state"`
}

// Descriptors of stage 1, after the PassFDs ones passed to the container
// (add PassFDs to each); joined namespaces follow from fdNamespaces, and
// the sealed ns-enter binary stage 1 is executed from comes last.
const (
	fdConfig = 3 + iota
	fdErrors
	fdExplain
	fdConsole // the socket a -t container sends its terminal over
	fdNamespaces
)

// Run starts the spec's process in its namespaces, waits for it and returns
// its exit status (128+N when signal N killed it). An error means ns-enter
// itself failed; it carries the code docker would exit with (ExitCode).
func Run(s *specs.Spec, o Options) (int, error) {
	p, err := Start(s, o)
	if err != nil {
		return exitCode(err), err
	}
	return p.Wait()
}

// Process is a container's process that Start started: running, or (with
// Options.ExecFifo) set up and waiting to execve until someone opens the
// fifo, as runc create leaves it.
type Process struct {
	Pid int
	// CgroupMade is the cg-limit NAME of the cgroup ns-enter made for the
	// container (cgroup_create.go), "" when it made none. A detached
	// container's owner removes it (cg-limit rm -f NAME) when it deletes
	// the container; Wait removes it itself.
	CgroupMade string

	s            *specs.Spec
	o            Options
	cmd          *exec.Cmd
	con          *console
	removeCgroup func()
	closers      []io.Closer
}

// Start does all of Run but the waiting: it returns once the container's
// process runs (or waits on the exec fifo). With Options.Detach it leaves
// the process to whoever reaps it (containerd's shim is a subreaper) and
// keeps nothing open: Wait must not be called then.
func Start(s *specs.Spec, o Options) (_ *Process, err error) {
	log := o.Log
	// Nothing ns-enter inherited goes further than it must: not to hooks,
	// not to stage 1, not to the container (see hygiene.go).
	if err := closeOnExec(nil, 3+o.PassFDs); err != nil {
		return nil, err
	}
	passed, err := passedFiles(o.PassFDs)
	if err != nil {
		return nil, err
	}
	p, err := plan(s, o)
	if err != nil {
		return nil, err
	}
	proc := &Process{s: s, o: o, closers: []io.Closer{p}}
	defer func() {
		if err != nil {
			proc.release()
			proc.removeCgroup()
		}
	}()
	if proc.removeCgroup, proc.CgroupMade, err = makeCgroup(log, s, o.Stderr); err != nil { // cgroup_create.go
		proc.removeCgroup = func() {}
		return nil, err
	}
	exe, err := sealedSelf(log)
	if err != nil {
		return nil, fmt.Errorf("make a read-only copy of ns-enter for the container: %w", err)
	}
	proc.closers = append(proc.closers, exe)
	var fifo *os.File
	if o.ExecFifo != "" {
		// Opened O_PATH here, where the host's paths are; stage 1 reopens
		// it for writing through /proc/self/fd after pivot_root.
		if fifo, err = os.OpenFile(o.ExecFifo, unix.O_PATH|unix.O_CLOEXEC, 0); err != nil {
			return nil, fmt.Errorf("open the exec fifo: %w", err)
		}
		proc.closers = append(proc.closers, fifo)
	}

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	proc.closers = append(proc.closers, errR)

	cmd := initCommand(s, o, p, passed, exe, fifo, cfgR, errW)
	var sockParent, sockChild *os.File
	if s.Process.Terminal {
		if sockParent, sockChild, err = socketpair(); err != nil {
			return nil, err
		}
		proc.closers = append(proc.closers, sockParent)
		cmd.ExtraFiles[o.PassFDs+fdConsole-3] = sockChild
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, nil, nil
	}

	explainStart(log, s, p)
	if err := cmd.Start(); err != nil {
		cfgR.Close()
		cfgW.Close()
		errW.Close()
		return nil, startError(p.clone, err)
	}
	cfgR.Close()
	errW.Close()
	if sockChild != nil {
		sockChild.Close()
	}
	proc.cmd, proc.Pid = cmd, cmd.Process.Pid
	kill := func() { cmd.Process.Kill(); cmd.Wait() }
	if p.lateUser {
		if err := writeLateMaps(log, errR, proc.Pid, s); err != nil { // userns.go
			kill()
			return nil, err
		}
	} else {
		explainMaps(log, proc.Pid, s)
	}

	setupErr := func() error {
		if s.Linux.CgroupsPath != "" {
			if err := joinCgroup(log, s.Linux.CgroupsPath, proc.Pid); err != nil {
				return err
			}
		}
		// The namespaces exist and the process is in its cgroup, blocked
		// until it reads the spec: the moment for the runtime's hooks.
		// The status is "created": the spec's lifecycle runs these hooks
		// after step 2, when the create operation's environment exists.
		state := o.state(s, specs.StateCreated, proc.Pid)
		//lint:ignore SA1019 deprecated in the spec, yet runtimes still run it (runc does; containerd's users have such hooks)
		if err := RunHooks(log, "prestart", hooksOf(s).Prestart, state); err != nil {
			return err
		}
		if err := RunHooks(log, "createRuntime", hooksOf(s).CreateRuntime, state); err != nil {
			return err
		}
		rootfs := p.rootfs
		if p.rootCwd {
			rootfs = "."
		}
		cfg := initConfig{Spec: s, Rootfs: rootfs, Mounts: p.ownMountNS(), Unshare: p.unshare, BindFDs: p.bindFDs,
			UTS: s.Hostname != "" || s.Domainname != "", UserNS: p.userns, Fork: o.Init, Explain: o.Explain,
			Console: consoleSize(s.Process, o.Stdin), PassFDs: o.PassFDs, ID: o.id(s),
			State: state}
		if fifo != nil {
			cfg.ExecFifo = 3 + len(cmd.ExtraFiles) - 2 // just before exe
		}
		if !o.NoNewKeyring {
			cfg.Keyring = "new"
			if len(p.joined) > 0 {
				cfg.Keyring = "join"
			}
		}
		err := json.NewEncoder(cfgW).Encode(cfg)
		cfgW.Close()
		if err != nil && !errors.Is(err, syscall.EPIPE) {
			return fmt.Errorf("send the spec to the container: %w", err)
		}
		return nil
	}()
	if setupErr != nil {
		kill()
		return nil, &exitError{125, setupErr}
	}
	// fd 4 closes on the container's execve (or, with an exec fifo, when
	// stage 1 is ready and blocks on it): EOF means it runs.
	msg, _ := io.ReadAll(errR)
	if line, rest, ok := bytes.Cut(msg, []byte("\n")); ok && bytes.HasPrefix(line, []byte("pid ")) {
		// A joined pid namespace: the process is the child setns.c forked.
		if pid, err := strconv.Atoi(string(line[4:])); err == nil {
			proc.Pid = pid
		}
		msg = rest
	}
	if len(msg) > 0 {
		cmd.Wait()
		_, err := childError(msg)
		return nil, err
	}
	if s.Process.Terminal {
		if proc.con, err = receiveConsole(sockParent, o.Stdin); err != nil {
			kill()
			return nil, &exitError{125, err}
		}
		if o.ConsoleSocket != "" {
			err := sendConsole(o.ConsoleSocket, proc.con.master)
			proc.con.master.Close()
			proc.con = nil
			if err != nil {
				kill()
				return nil, &exitError{125, err}
			}
		} else {
			proc.closers = append(proc.closers, closerFunc(proc.con.close))
		}
	}
	if o.PIDFile != "" {
		// No newline, as runc writes it: containerd parses it with Atoi.
		if err := fsutil.WriteFile(o.PIDFile, []byte(strconv.Itoa(proc.Pid)), 0o644); err != nil {
			kill()
			return nil, &exitError{125, fmt.Errorf("--pid-file: %w", err)}
		}
	}
	if o.ExecFifo == "" {
		WarnHooks(log, o.Stderr, "poststart", hooksOf(s).Poststart, o.state(s, specs.StateRunning, proc.Pid))
	}
	if o.Detach {
		proc.release()
		cmd.Process.Release()
	}
	return proc, nil
}

// Wait stays with the running container until it ends: it copies the
// terminal, passes signals on, runs the poststop hooks and removes the
// cgroup ns-enter made.
func (p *Process) Wait() (int, error) {
	defer p.release()
	defer p.removeCgroup()
	waitErr := attach(p.cmd, p.con, p.o.Stdout)
	status := exitStatus(p.cmd.ProcessState, waitErr)
	p.o.Log.Note("the container's process %d ended with status %d", p.Pid, status)
	WarnHooks(p.o.Log, p.o.Stderr, "poststop", hooksOf(p.s).Poststop, p.o.state(p.s, specs.StateStopped, p.Pid))
	return status, nil
}

func (p *Process) release() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i].Close()
	}
	p.closers = nil
}

type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// state is the runtime spec's state document for the hooks.
func (o Options) state(s *specs.Spec, status specs.ContainerState, pid int) specs.State {
	return specs.State{Version: specs.Version, ID: o.id(s), Status: status, Pid: pid, Bundle: o.Bundle, Annotations: s.Annotations}
}

// id is the container's id: the runtime's, else the document's ctrkit.id.
func (o Options) id(s *specs.Spec) string {
	if o.ID != "" {
		return o.ID
	}
	return s.Annotations["ctrkit.id"]
}

func hooksOf(s *specs.Spec) *specs.Hooks {
	if s.Hooks == nil {
		return &specs.Hooks{}
	}
	return s.Hooks
}

// ExecSpec keeps of a running container's spec what runc exec applies to
// a new process in it: the process itself (identity, capabilities,
// no_new_privs, rlimits, umask, environment, working directory), its seccomp
// filter and its cgroup. The rest (root, mounts, hostname, devices, limits)
// made the container and is in place already; the namespaces are joined.
func ExecSpec(c *specs.Spec) *specs.Spec {
	s := &specs.Spec{Version: c.Version, Annotations: c.Annotations, Linux: &specs.Linux{}}
	if c.Process != nil {
		p := *c.Process
		p.Terminal, p.ConsoleSize = false, nil // exec -t decides
		s.Process = &p
	}
	if c.Linux != nil {
		s.Linux.Seccomp = c.Linux.Seccomp
		s.Linux.CgroupsPath = c.Linux.CgroupsPath
	}
	return s
}

// exitCode is the status ns-enter exits with for err.
func exitCode(err error) int {
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 125
}

// initCommand is stage 1: ns-enter itself, re-executed into the new
// namespaces from exe, its sealed copy. Its descriptors from 3 up are the
// ones passed to the container, then the spec pipe, the error pipe, our
// stderr for explain lines, the terminal socket, the namespaces to join,
// the exec fifo (for create) and exe itself.
func initCommand(s *specs.Spec, o Options, p *runPlan, passed []*os.File, exe, fifo, cfgR, errW *os.File) *exec.Cmd {
	files := append(append(append(passed, cfgR, errW, o.Stderr, nil), p.nsFiles...), p.bindFiles...)
	if fifo != nil {
		files = append(files, fifo)
	}
	files = append(files, exe)
	cmd := &exec.Cmd{
		Path: fmt.Sprintf("/proc/self/fd/%d", 3+len(files)-1),
		Args: []string{"ns-enter", "init"},
		Dir:  o.Bundle,
		Env: []string{StageEnv + "=init", setns.ErrEnv + "=" + strconv.Itoa(o.PassFDs+fdErrors),
			setns.PassEnv + "=" + strconv.Itoa(o.PassFDs)},
		ExtraFiles: files,
		Stdin:      o.Stdin,
		Stdout:     o.Stdout,
		Stderr:     o.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags:                 p.clone,
			UidMappings:                idMaps(s.Linux.UIDMappings),
			GidMappings:                idMaps(s.Linux.GIDMappings),
			GidMappingsEnableSetgroups: true,
		},
	}
	if p.setns != "" {
		cmd.Env = append(cmd.Env, setns.Env+"="+p.setns)
		if o.Detach {
			cmd.Env = append(cmd.Env, setns.DetachEnv+"=1")
		}
	}
	if p.lateUser {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", setns.UsernsEnv, p.clone&^unix.CLONE_NEWUSER))
		if p.rootCwd {
			cmd.Env = append(cmd.Env, setns.ChdirEnv+"="+p.rootfs)
		}
		return cmd
	}
	if p.clone&unix.CLONE_NEWUSER != 0 {
		// A new user namespace starts with our host ids, which its map may
		// not cover (then they read as 65534 and execve drops every
		// capability). Become its root first; setUser picks the final ids.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	return cmd
}

// socketpair makes the unix socket a -t container sends its terminal over.
func socketpair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair for the terminal: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console"), nil
}

// attach stays with the running container until it ends: it copies the
// terminal (con, when -t) and passes signals on.
func attach(cmd *exec.Cmd, con *console, out io.Writer) error {
	var done chan struct{}
	if con != nil {
		done = con.start(out)
	}
	stop := forwardSignals(cmd.Process, con != nil)
	err := cmd.Wait()
	stop()
	if done != nil {
		<-done
		con.restore()
	}
	return err
}

// runPlan is what Run works out from the spec before it starts anything.
type runPlan struct {
	clone   uintptr    // namespaces to create
	unshare uintptr    // namespaces stage 1 creates (late.go)
	setns   string     // "FD:KIND,…" for the setns constructor
	nsFiles []*os.File // the namespaces to join, open
	rootfs  string     // absolute root.path
	userns  bool       // the container is in a user namespace other than ours
	// lateUser: the setns constructor makes the user namespace after the
	// joins, and the clone flags inside it (userns.go).
	lateUser bool
	rootCwd  bool // lateUser: stage 1 starts in the root, set up as "."
	// bindFiles are the sources of bind mounts, opened O_PATH for a root
	// inside that could not reach them by path (userns.go).
	bindFiles []*os.File
	bindFDs   map[int]int // index in mounts → descriptor in stage 1
	// callersMountNS: the mount namespace joined by path is ns-enter's own.
	callersMountNS bool
	joined         []joined
}

type joined struct {
	kind namespace.Kind
	path string
}

// joins tells whether the plan joins an existing namespace of kind flag.
func (p *runPlan) joins(flag uintptr) bool {
	for _, j := range p.joined {
		if j.kind.Flag == flag {
			return true
		}
	}
	return false
}

// ownMountNS tells whether the container has a mount namespace of its own:
// a new one, or one the spec names by path (as runc does, the root and the
// mounts are then set up in that namespace: the spec asked for it). Never
// the caller's, which mounts and pivot_root would change.
func (p *runPlan) ownMountNS() bool {
	return p.clone&unix.CLONE_NEWNS != 0 || p.joins(unix.CLONE_NEWNS) && !p.callersMountNS
}

func (p *runPlan) Close() error {
	for _, f := range append(p.nsFiles, p.bindFiles...) {
		f.Close()
	}
	return nil
}

// plan checks the spec and opens what it joins. Nothing is created yet, so
// a bad spec leaves nothing behind.
func plan(s *specs.Spec, o Options) (_ *runPlan, err error) {
	if s.Process == nil || len(s.Process.Args) == 0 {
		return nil, errors.New("the spec has no process to run: give a command after --, or set process.args")
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	p := &runPlan{}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	seen := map[specs.LinuxNamespaceType]bool{}
	var join []specs.LinuxNamespace
	for _, ns := range s.Linux.Namespaces {
		k, err := namespace.ByName(string(ns.Type))
		if err != nil {
			return nil, fmt.Errorf("linux.namespaces: %w", err)
		}
		if seen[k.OCI] {
			return nil, fmt.Errorf("linux.namespaces: %q is listed twice", ns.Type)
		}
		seen[k.OCI] = true
		if ns.Path == "" {
			p.clone |= k.Flag
			continue
		}
		join = append(join, ns)
	}
	// Join in namespace.Kinds order, the user namespace last when we are
	// privileged already (joining it first would drop the capabilities the
	// others need), like nsenter(1).
	ordered := append(slices.Clone(namespace.Kinds[1:]), namespace.Kinds[0])
	for _, k := range ordered {
		for _, ns := range join {
			if kk, _ := namespace.ByName(string(ns.Type)); kk.Flag != k.Flag {
				continue
			}
			f, err := os.Open(ns.Path)
			if err != nil {
				return nil, fmt.Errorf("%s namespace to join: %w (is the process still running?)", k.Name, err)
			}
			// A path of another kind would be joined as what it is: a
			// "cgroup" entry naming /proc/self/ns/mnt would put the
			// container back in the caller's mount namespace, and its
			// pivot_root would change the caller's root.
			if got, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE); err == nil && uintptr(got) != k.Flag {
				f.Close()
				gk := namespace.ByFlag(uintptr(got))
				return nil, fmt.Errorf("linux.namespaces: the %s namespace's path %q is a %s namespace: give a /proc/PID/ns/%s path", k.Name, ns.Path, gk.Name, k.Proc)
			}
			if k.Flag == unix.CLONE_NEWNS {
				var a, b unix.Stat_t
				if unix.Fstat(int(f.Fd()), &a) == nil && unix.Stat("/proc/self/ns/mnt", &b) == nil && a.Ino == b.Ino && a.Dev == b.Dev {
					p.callersMountNS = true
				}
			}
			fd := o.PassFDs + fdNamespaces + len(p.nsFiles)
			p.nsFiles = append(p.nsFiles, f)
			if p.setns != "" {
				p.setns += ","
			}
			p.setns += fmt.Sprintf("%d:%s", fd, k.Name)
			p.joined = append(p.joined, joined{k, ns.Path})
			if k.Flag == unix.CLONE_NEWUSER {
				p.userns = true
			}
		}
	}
	if err := p.planLate(s); err != nil { // late.go
		return nil, err
	}
	if p.clone&unix.CLONE_NEWUSER != 0 {
		p.userns = true
		if p.joins(unix.CLONE_NEWPID) {
			return nil, errors.New("linux.namespaces: a new user namespace cannot be combined with a joined pid namespace: its processes would be born outside the new user namespace's pid namespace")
		}
		for _, m := range []struct {
			what string
			ms   []specs.LinuxIDMapping
		}{{"uid map", s.Linux.UIDMappings}, {"gid map", s.Linux.GIDMappings}} {
			if err := namespace.CheckIDMaps(m.what, m.ms); err != nil {
				return nil, err
			}
			if !namespace.Maps(m.ms, 0) {
				return nil, fmt.Errorf("the %s does not map id 0: ns-enter sets the container up as root inside the user namespace, so map 0 (e.g. \"0 100000 65536\")", m.what)
			}
		}
	} else if len(s.Linux.UIDMappings)+len(s.Linux.GIDMappings) > 0 {
		return nil, errors.New("uid/gid maps are given but no new user namespace: add --user (a \"user\" entry without path in linux.namespaces)")
	}
	if s.Root != nil && s.Root.Path != "" {
		root := s.Root.Path
		if !filepath.IsAbs(root) {
			root = filepath.Join(o.Bundle, root)
		}
		root, err = filepath.Abs(root)
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(root)
		if err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("root filesystem %s is missing or not a directory: build one with scripts/mk-rootfs.sh, or mount an image with fs-layer", root)
		}
		if !p.ownMountNS() {
			return nil, errors.New("a root filesystem needs a mount namespace of the container's own, new or joined by path: add --mount (a \"mount\" entry in linux.namespaces), or pivot_root would change the host's root")
		}
		p.rootfs = root
	}
	if (s.Hostname != "" || s.Domainname != "") && p.clone&unix.CLONE_NEWUTS == 0 && !p.joins(unix.CLONE_NEWUTS) {
		return nil, errors.New("setting the hostname needs a UTS namespace of the container's own: add --uts, or it would rename the host")
	}
	planLateUser(p, len(join) > 0) // userns.go
	if err := p.openBindSources(s, o); err != nil {
		return nil, err
	}
	if err := checkSysctl(s, p); err != nil {
		return nil, err
	}
	if len(s.Mounts) > 0 && !p.ownMountNS() {
		return nil, errors.New("mounts need a new mount namespace: add --mount, or they would land in the host's")
	}
	if err := checkSeccomp(s); err != nil {
		return nil, err
	}
	return p, nil
}

func idMaps(ms []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	var out []syscall.SysProcIDMap
	for _, m := range ms {
		out = append(out, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	return out
}

// explainStart prints the clone and setns steps with the unshare(1) or
// nsenter(1) line that does the same.
func explainStart(log *explain.Log, s *specs.Spec, p *runPlan) {
	if !log.Enabled() {
		return
	}
	shell := []string{"unshare", "--fork"}
	for _, k := range namespace.Kinds {
		if p.clone&k.Flag != 0 {
			shell = append(shell, k.Option)
		}
	}
	if p.clone != 0 && !p.lateUser {
		log.Step(fmt.Sprintf("clone(%s|SIGCHLD)", namespace.FlagNames(p.clone)), explain.Join(shell)+" …")
	}
	for _, j := range p.joined {
		log.Step(fmt.Sprintf("setns(open(%q), %s), in C before the Go runtime starts", j.path, namespace.FlagNames(j.kind.Flag)),
			fmt.Sprintf("nsenter %s=%s …", j.kind.Option, j.path))
		if j.kind.Flag == unix.CLONE_NEWPID {
			log.Note("a joined pid namespace takes effect for children only: fork once more")
		}
	}
	if p.lateUser {
		explainLateUser(log, p) // userns.go
	}
}

func explainMaps(log *explain.Log, pid int, s *specs.Spec) {
	for _, m := range []struct {
		file string
		ms   []specs.LinuxIDMapping
	}{{"uid_map", s.Linux.UIDMappings}, {"gid_map", s.Linux.GIDMappings}} {
		for _, l := range m.ms {
			path := fmt.Sprintf("/proc/%d/%s", pid, m.file)
			line := namespace.FormatIDMap(l)
			log.Step(fmt.Sprintf("write(%q, %q)", path, line), fmt.Sprintf("echo %s > %s", explain.Quote(line), path))
		}
	}
}

// startError explains why clone failed.
func startError(flags uintptr, err error) error {
	switch {
	case errors.Is(err, syscall.EPERM):
		return &exitError{125, fmt.Errorf("clone(%s): %w: creating namespaces needs root (CAP_SYS_ADMIN); run with sudo", namespace.FlagNames(flags), err)}
	case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS):
		return &exitError{125, fmt.Errorf("clone(%s): %w: the kernel refused; check the id maps and /proc/sys/user/max_*_namespaces", namespace.FlagNames(flags), err)}
	}
	return &exitError{125, fmt.Errorf("start the container (clone(%s)): %w", namespace.FlagNames(flags), err)}
}

// childError decodes stage 1's "CODE message" report.
func childError(msg []byte) (int, error) {
	codeStr, text, _ := strings.Cut(string(msg), " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil {
		code, text = 125, string(msg)
	}
	return code, &exitError{code, errors.New(text)}
}

// forwardSignals passes the signals ns-enter receives on to the container,
// as docker run --sig-proxy does. With a terminal, keys like Ctrl-C travel
// through the pty instead, so only termination signals are forwarded.
func forwardSignals(p *os.Process, tty bool) (stop func()) {
	sigs := make(chan os.Signal, 16)
	forward := []os.Signal{unix.SIGTERM, unix.SIGHUP, unix.SIGUSR1, unix.SIGUSR2}
	if !tty {
		forward = append(forward, unix.SIGINT, unix.SIGQUIT)
	}
	signal.Notify(sigs, forward...)
	go func() {
		for sig := range sigs {
			p.Signal(sig)
		}
	}()
	return func() { signal.Stop(sigs); close(sigs) }
}

// exitStatus is the shell's view of how a process ended: its exit code, or
// 128+N when signal N killed it.
func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 125
	}
	ws := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
