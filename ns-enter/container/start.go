package container

// Stage 0's start: the pipes and files stage 1 inherits, the clone, the
// id maps, the cgroup, the hooks and the spec sent on fd 3, then the wait
// for EOF on fd 4 (the table in the package doc, in container.go).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/fsutil"
	"ctrkit/ns-enter/setns"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Start does all of Run but the waiting: it returns once the container's
// process runs (or waits on the exec fifo). With Options.Detach it leaves
// the process to whoever reaps it (containerd's shim is a subreaper) and
// keeps nothing open: Wait must not be called then.
func Start(s *specs.Spec, o Options) (_ *Process, err error) {
	log := o.Log
	if o.ExplainTo != nil {
		defer o.ExplainTo.Close()
	}
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

	// Stage 1 moves itself into its cgroup before its Go runtime starts,
	// unless it is born in a new user namespace, whose root may not write
	// the host's cgroup files, or makes one later (that handshake comes
	// first).
	var self *stage1Join
	if s.Linux.CgroupsPath != "" && !p.lateUser && p.clone&unix.CLONE_NEWUSER == 0 {
		self = &stage1Join{send: cfgW, answer: errR}
		cmd.Env = append(cmd.Env, setns.CgroupEnv+"=1")
	}
	// On cgroup v2, stage 1 is born in its cgroup (bornCgroup).
	born := bornCgroup(s.Linux.CgroupsPath)
	if born != "" {
		fd, err := unix.Open(born, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open the cgroup %s: %w", born, err)
		}
		defer unix.Close(fd)
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	explainStart(log, s, p)
	if err := cmd.Start(); err != nil {
		cfgR.Close()
		cfgW.Close()
		errW.Close()
		if born != "" {
			err = fmt.Errorf("%w (clone3 with CLONE_INTO_CGROUP, into %s)", err, born)
		}
		return nil, startError(p.clone, err)
	}
	cfgR.Close()
	errW.Close()
	if sockChild != nil {
		sockChild.Close()
	}
	proc.cmd, proc.Pid = cmd, cmd.Process.Pid
	if !o.Detach {
		// From now on a signal to ns-enter is the container's: one sent
		// right after the container's execve is neither lost (the Go
		// runtime drops SIGUSR1 nobody asked for) nor ends ns-enter alone.
		proc.stopSignals = forwardSignals(cmd.Process, s.Process.Terminal && o.ConsoleSocket == "")
		proc.closers = append(proc.closers, closerFunc(proc.stopSignals))
	}
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
			if err := joinCgroup(log, s.Linux.CgroupsPath, proc.Pid, self, born); err != nil {
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
		cfg := initConfig{Spec: withoutSeccomp(s), Rootfs: rootfs, NoPivot: o.NoPivot, Mounts: p.ownMountNS(), Unshare: p.unshare, BindFDs: p.bindFDs,
			UTS: s.Hostname != "" || s.Domainname != "", UserNS: p.userns, Fork: o.Init, Explain: o.Explain,
			Console: consoleSize(s.Process, o.Stdin), PassFDs: o.PassFDs, ID: o.id(s),
			State: state}
		if fifo != nil {
			cfg.ExecFifo = 3 + len(cmd.ExtraFiles) - 2 // just before exe
		}
		var err error
		if cfg.Seccomp, err = p.seccomp(); err != nil {
			return err
		}
		if !o.NoNewKeyring {
			cfg.Keyring = "new"
			if len(p.joined) > 0 {
				cfg.Keyring = "join"
			}
		}
		err = json.NewEncoder(cfgW).Encode(cfg)
		cfgW.Close()
		if err != nil && !errors.Is(err, syscall.EPIPE) {
			return fmt.Errorf("send the spec to the container: %w", err)
		}
		return nil
	}()
	if setupErr != nil {
		kill()
		return nil, &exitcode.Error{Code: 125, Err: setupErr}
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
			return nil, &exitcode.Error{Code: 125, Err: err}
		}
		if o.ConsoleSocket != "" {
			err := sendConsole(o.ConsoleSocket, proc.con.master)
			proc.con.master.Close()
			proc.con = nil
			if err != nil {
				kill()
				return nil, &exitcode.Error{Code: 125, Err: err}
			}
		} else {
			proc.closers = append(proc.closers, closerFunc(proc.con.close))
		}
	}
	if o.PIDFile != "" {
		// No newline, as runc writes it: containerd parses it with Atoi.
		if err := fsutil.WriteFile(o.PIDFile, []byte(strconv.Itoa(proc.Pid)), 0o644); err != nil {
			kill()
			return nil, &exitcode.Error{Code: 125, Err: fmt.Errorf("--pid-file: %w", err)}
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
