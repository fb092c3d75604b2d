package container

// Stage 1's process as ns-enter's first stage sees it: the command that
// starts it, the socket pair and console it is given, the signals passed
// on to it, and its exit status read back.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"ctrkit/internal/exitcode"
	"ctrkit/ns-enter/setns"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// exitCode is the status ns-enter exits with for err.
func exitCode(err error) int {
	var e *exitcode.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 125
}

// initCommand is stage 1: ns-enter itself, re-executed into the new
// namespaces from exe, its sealed copy. Its descriptors from 3 up are the
// ones passed to the container, then the spec pipe, the error pipe, our
// stderr for explain lines, the terminal socket, the namespaces to join,
// the exec fifo (for create) and exe itself.
func initCommand(s *specs.Spec, o Options, p *runPlan, passed []*os.File, exe, fifo, cfgR, errW *os.File) *exec.Cmd {
	explainTo := o.Stderr
	if o.ExplainTo != nil {
		explainTo = o.ExplainTo
	}
	files := append(append(append(passed, cfgR, errW, explainTo, nil), p.nsFiles...), p.bindFiles...)
	if fifo != nil {
		files = append(files, fifo)
	}
	files = append(files, exe)
	cmd := &exec.Cmd{
		Path: fmt.Sprintf("/proc/self/fd/%d", 3+len(files)-1),
		Args: []string{"ns-enter", "init"},
		Dir:  o.Bundle,
		// GODEBUG=disablethp=1: the init stage runs in the container's
		// cgroup, so its memory is the container's; the runtime's switch
		// keeps it on 4 KB pages (internal/hugeheap). GOMAXPROCS=1: it
		// does one step after another, on one thread (runc's init asks the
		// same of its runtime), see sibling.OneP.
		Env: []string{StageEnv + "=init", setns.ErrEnv + "=" + strconv.Itoa(o.PassFDs+fdErrors),
			setns.PassEnv + "=" + strconv.Itoa(o.PassFDs), "GODEBUG=disablethp=1", "GOMAXPROCS=1"},
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
	cmd.Env = append(cmd.Env, coverEnv(p)...) // cover.go
	if p.setns != "" {
		cmd.Env = append(cmd.Env, setns.Env+"="+p.setns)
		if o.Detach {
			cmd.Env = append(cmd.Env, setns.DetachEnv+"=1")
		}
	}
	if p.lateUser {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", setns.UsernsEnv, p.clone&^unix.CLONE_NEWUSER))
		if o.Explain {
			cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", lateUserEnv, p.clone&^unix.CLONE_NEWUSER)) // userns.go
		}
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
func attach(cmd *exec.Cmd, con *console, out io.Writer, stop func()) error {
	var done chan struct{}
	if con != nil {
		done = con.start(out)
	}
	if stop == nil {
		stop = forwardSignals(cmd.Process, con != nil)
	}
	err := cmd.Wait()
	stop()
	if done != nil {
		<-done
		con.restore()
	}
	return err
}

// childError decodes stage 1's "CODE message" report.
func childError(msg []byte) (int, error) {
	codeStr, text, _ := strings.Cut(string(msg), " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil {
		code, text = 125, string(msg)
	}
	return code, &exitcode.Error{Code: code, Err: errors.New(text)}
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
	var once sync.Once
	return func() { once.Do(func() { signal.Stop(sigs); close(sigs) }) }
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
