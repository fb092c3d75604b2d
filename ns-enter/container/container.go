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
	"io"
	"os"
	"os/exec"

	"ctrkit/internal/explain"
	"ctrkit/ns-enter/seccomp"

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
	NoPivot      bool // move the root onto / and chroot, for a host whose root is an initramfs (runc's --no-pivot)
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
	// SeccompCache is where compiled seccomp filters are kept
	// (seccomp.CacheDir of ctrkit's store); "" compiles at every start.
	SeccompCache string
	// ExplainTo, when set, receives stage 1's explain lines instead of
	// Stderr (Log should write there too); Start closes it once the
	// container runs or failed, so whoever reads it sees EOF then.
	ExplainTo *os.File
}

// initConfig is what stage 0 sends stage 1 over fd 3.
type initConfig struct {
	Spec    *specs.Spec `json:"spec"`
	Rootfs  string      `json:"rootfs,omitempty"`  // absolute; "" keeps the current root
	NoPivot bool        `json:"noPivot,omitempty"` // MS_MOVE + chroot instead of pivot_root
	Mounts  bool        `json:"mounts"`            // set up the new mount namespace
	UTS     bool        `json:"uts"`               // set the hostname
	UserNS  bool        `json:"userns"`            // inside a user namespace: no mknod
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
	// Seccomp is the spec's filter, compiled by stage 0.
	Seccomp *seccomp.Program `json:"seccomp,omitempty"`
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
	stopSignals  func() // ends forwarding ns-enter's signals to the container
	closers      []io.Closer
}

// Wait stays with the running container until it ends: it copies the
// terminal, passes signals on, runs the poststop hooks and removes the
// cgroup ns-enter made.
func (p *Process) Wait() (int, error) {
	defer p.release()
	defer p.removeCgroup()
	waitErr := attach(p.cmd, p.con, p.o.Stdout, p.stopSignals)
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
