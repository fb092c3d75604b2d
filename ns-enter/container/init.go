package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/ns-enter/setns"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// IsInit reports whether this process is stage 1, the re-executed ns-enter
// that becomes the container.
func IsInit() bool { return os.Getenv(StageEnv) == "init" }

func init() {
	if IsInit() {
		// capset(2), prctl(PR_CAPBSET_DROP) and no_new_privs act on one
		// thread; keep main on the thread that will execve.
		runtime.LockOSThread()
	}
}

// Init runs stage 1 and returns only if it failed or, with --init or a
// joined pid namespace, when the forked process ended; the caller exits
// with the code it returns.
func Init() (code int) {
	openCoverDir() // cover.go: -cover builds only
	defer func() { coverExit(code) }()
	pass, _ := strconv.Atoi(os.Getenv(setns.PassEnv)) // descriptors for the container come first
	cfgFile := os.NewFile(uintptr(pass+fdConfig), "config")
	errPipe := os.NewFile(uintptr(pass+fdErrors), "errors")
	logFile := os.NewFile(uintptr(pass+fdExplain), "explain")
	for _, fd := range []int{fdConfig, fdErrors, fdExplain, fdConsole} {
		unix.CloseOnExec(pass + fd)
	}
	var cfg initConfig
	if err := json.NewDecoder(cfgFile).Decode(&cfg); err != nil {
		return report(errPipe, &exitcode.Error{Code: 125, Err: fmt.Errorf("read the spec from ns-enter: %w", err)})
	}
	cfgFile.Close()
	os.Unsetenv(StageEnv)
	os.Unsetenv("_CTRKIT_ERRFD")
	os.Unsetenv(setns.PassEnv)
	// The runtime read its two settings (child.go) when it started: the
	// hooks run from here on get neither.
	os.Unsetenv("GODEBUG")
	os.Unsetenv("GOMAXPROCS")
	log := explain.New("ns-enter", logFile, cfg.Explain)
	explainLateUserInside(log) // userns.go

	if cfg.Keyring != "" { // before seccomp, which usually forbids keyctl(2)
		if err := sessionKeyring(log, cfg.ID); err != nil {
			return report(errPipe, err)
		}
	}

	path, err := setup(log, &cfg)
	if err != nil {
		return report(errPipe, err)
	}
	p := cfg.Spec.Process
	var fifo *os.File // the exec fifo's write end: EOF for start at execve
	if cfg.ExecFifo != 0 {
		// Set up: tell ns-enter create so (EOF on the error pipe), then
		// wait until ns-enter start opens the fifo's other end. Keep none
		// of create's descriptors meanwhile, not even its stderr for the
		// explain lines: whoever ran create (containerd's shim) reads its
		// output until EOF. Later lines go to the container's stderr.
		errPipe.Close()
		logFile.Close()
		log = explain.New("ns-enter", os.Stderr, cfg.Explain)
		if fifo, err = waitExecFifo(log, cfg.ExecFifo); err != nil {
			fmt.Fprintf(os.Stderr, "ns-enter: %v\n", err)
			return 125
		}
		errPipe = os.Stderr // nobody reads the pipe any more: errors go to the container's stderr
	}
	cfg.State.Status = specs.StateRunning
	if err := RunHooks(log, "startContainer", hooksOf(cfg.Spec).StartContainer, cfg.State); err != nil {
		return report(errPipe, err)
	}
	if p.NoNewPrivileges {
		// As late as possible, so the filter need not allow the setup.
		if err := loadSeccomp(log, cfg.Seccomp); err != nil {
			return report(errPipe, err)
		}
	}
	if !cfg.Fork {
		log.Step(fmt.Sprintf("execve(%q, %q)", path, p.Args), "exec "+explain.Join(p.Args))
		writeCoverage()
		err := syscall.Exec(path, p.Args, p.Env)
		return report(errPipe, &exitcode.Error{Code: 126, Err: fmt.Errorf("execve %s: %w", path, err)})
	}
	return forkAndReap(log, errPipe, fifo, path, p)
}

// setup does everything between birth and execve, and returns the
// program's path.
func setup(log *explain.Log, cfg *initConfig) (string, error) {
	s := cfg.Spec
	// Only the passed descriptors reach the container. Before any seccomp
	// filter: a profile that does not list close_range(2) would forbid it.
	if err := closeOnExec(log, 3+cfg.PassFDs); err != nil {
		return "", err
	}
	if err := unshareLate(log, cfg); err != nil { // late.go
		return "", err
	}
	for i, fd := range cfg.BindFDs { // userns.go
		s.Mounts[i].Source = fmt.Sprintf("/proc/self/fd/%d", fd)
		detached[s.Mounts[i].Source] = fd
	}
	createContainer := func() error {
		return RunHooks(log, "createContainer", hooksOf(s).CreateContainer, cfg.State)
	}
	if cfg.Mounts {
		if err := setupMounts(log, s, cfg.Rootfs, cfg.NoPivot, cfg.UserNS, createContainer); err != nil {
			return "", err
		}
	} else if cfg.Rootfs != "" {
		if err := setupCallerMounts(log, s, cfg.Rootfs, cfg.UserNS, createContainer); err != nil { // callermounts.go
			return "", err
		}
	} else if err := createContainer(); err != nil {
		return "", err
	}
	if s.Process.Terminal {
		if err := openConsole(log, os.NewFile(uintptr(cfg.PassFDs+fdConsole), "console"), int(s.Process.User.UID), cfg.Console); err != nil {
			return "", err
		}
	}
	if cfg.UTS {
		if s.Hostname != "" {
			log.Step(fmt.Sprintf("sethostname(%q)", s.Hostname), "hostname "+explain.Quote(s.Hostname))
			if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
				return "", fmt.Errorf("sethostname(%q): %w", s.Hostname, err)
			}
		}
		if s.Domainname != "" {
			log.Step(fmt.Sprintf("setdomainname(%q)", s.Domainname), "domainname "+explain.Quote(s.Domainname))
			if err := unix.Setdomainname([]byte(s.Domainname)); err != nil {
				return "", fmt.Errorf("setdomainname(%q): %w", s.Domainname, err)
			}
		}
	}
	if !s.Process.NoNewPrivileges {
		// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN,
		// which setupProcess drops.
		if err := loadSeccomp(log, cfg.Seccomp); err != nil {
			return "", err
		}
	}
	if cfg.Rootfs == "" && s.Linux != nil {
		if err := setSysctl(log, s.Linux.Sysctl); err != nil { // with a root, setupMounts did
			return "", err
		}
	}
	if err := setupProcess(log, s.Process, cfg.Rootfs != ""); err != nil {
		return "", err
	}
	return lookPath(s.Process.Args[0], s.Process.Env)
}

// waitExecFifo blocks opening the exec fifo for writing until ns-enter
// start opens it for reading, then writes one byte for start to read. The
// fifo lives in the runtime's state directory on the host, out of reach
// after pivot_root: stage 0 opened it O_PATH and passed the descriptor,
// which /proc/self/fd reopens (runc's trick too).
//
// The write end stays open, close-on-exec: start reads until EOF, which
// comes with the execve of the container's program (or the end of stage
// 1), so start returns, and runs the poststart hooks, only once the program
// runs, as the spec orders. The returned file is for forkAndReap to close
// once its child runs.
func waitExecFifo(log *explain.Log, fd int) (*os.File, error) {
	path := fmt.Sprintf("/proc/self/fd/%d", fd)
	log.Step(fmt.Sprintf("open(%q, O_WRONLY|O_CLOEXEC) blocks until ns-enter start opens the exec fifo", path), "exec 9>exec.fifo; echo 0 >&9    # waits for: cat exec.fifo")
	f, err := os.OpenFile(path, os.O_WRONLY, 0) // Go opens with O_CLOEXEC
	if err != nil {
		return nil, fmt.Errorf("open the exec fifo: %w", err)
	}
	unix.Close(fd)
	if _, err := f.Write([]byte("0")); err != nil {
		f.Close()
		return nil, fmt.Errorf("write the exec fifo: %w", err)
	}
	return f, nil
}

// forkAndReap starts the process as a child and waits for it. As PID 1 of a
// pid namespace (--init) it also reaps every orphan the kernel re-parents to
// it, which would otherwise stay zombies, and forwards signals: the kernel
// delivers to a namespace's PID 1 only signals it has a handler for, so a
// plain program as PID 1 ignores SIGTERM and Ctrl-C.
func forkAndReap(log *explain.Log, errPipe, fifo *os.File, path string, p *specs.Process) int {
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("ns-enter-init\x00")[0])), 0, 0, 0) // for ps
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs)
	cmd := exec.Command(path, p.Args[1:]...)
	cmd.Args[0] = p.Args[0]
	cmd.Env = p.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	log.Step(fmt.Sprintf("fork(); execve(%q, %q)", path, p.Args), explain.Join(p.Args)+" &")
	if err := cmd.Start(); err != nil {
		return report(errPipe, &exitcode.Error{Code: 126, Err: fmt.Errorf("start %s: %w", path, err)})
	}
	errPipe.Close()
	if fifo != nil {
		fifo.Close() // the program runs: start may return
	}
	child := cmd.Process.Pid
	for {
		sig := <-sigs
		if sig == unix.SIGCHLD {
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
				if pid == child {
					if ws.Signaled() {
						return 128 + int(ws.Signal())
					}
					return ws.ExitStatus()
				}
				log.Note("reaped orphan %d", pid)
			}
		} else if sig != unix.SIGURG { // SIGURG is the Go runtime's own
			unix.Kill(child, sig.(syscall.Signal))
		}
	}
}

// report sends err to stage 0 as "CODE message" and returns the code.
func report(errPipe *os.File, err error) int {
	code := 125
	var e *exitcode.Error
	if errors.As(err, &e) {
		code = e.Code
	}
	fmt.Fprintf(errPipe, "%d %v", code, err)
	return code
}
