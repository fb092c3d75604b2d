package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// rlimits maps the runtime spec's names to setrlimit(2) resources.
var rlimits = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_STACK": unix.RLIMIT_STACK,
}

// setRlimits applies the spec's resource limits. syscall.Setrlimit (not
// unix's) is used so the Go runtime forgets the RLIMIT_NOFILE it raised at
// start-up and does not restore it on execve.
func setRlimits(log *explain.Log, rls []specs.POSIXRlimit) error {
	for _, rl := range rls {
		res, ok := rlimits[rl.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %q: use one of RLIMIT_NOFILE, RLIMIT_NPROC, … (getrlimit(2))", rl.Type)
		}
		log.Step(fmt.Sprintf("setrlimit(%s, {cur=%d, max=%d})", rl.Type, rl.Soft, rl.Hard),
			ulimitCommand(rl))
		if err := syscall.Setrlimit(res, &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
			return fmt.Errorf("setrlimit(%s, soft %d, hard %d): %w", rl.Type, rl.Soft, rl.Hard, err)
		}
	}
	return nil
}

// setupProcess turns this process into the spec's process: limits,
// identity, capabilities and no_new_privs, in the order that keeps each
// step allowed (runc's finalizeNamespace): the bounding set is dropped while
// CAP_SETPCAP is still held, PR_SET_KEEPCAPS keeps the permitted set across
// setuid, and the final sets are applied last.
//
// newRoot says the process starts a container of its own (not an exec):
// then a missing working directory is made, as runc makes it.
func setupProcess(log *explain.Log, p *specs.Process, newRoot bool) error {
	if err := setRlimits(log, p.Rlimits); err != nil {
		return err
	}
	if newRoot && p.Cwd != "" {
		if _, err := os.Stat(p.Cwd); os.IsNotExist(err) {
			log.Step(fmt.Sprintf("mkdir(%q, 0755)", p.Cwd), "mkdir -p "+explain.Quote(p.Cwd))
			if err := os.MkdirAll(p.Cwd, 0o755); err != nil {
				return fmt.Errorf("make the working directory %q: %w", p.Cwd, err)
			}
		}
	}
	if p.OOMScoreAdj != nil {
		log.Step(fmt.Sprintf("write(\"/proc/self/oom_score_adj\", %q)", fmt.Sprint(*p.OOMScoreAdj)), fmt.Sprintf("echo %d > /proc/self/oom_score_adj", *p.OOMScoreAdj))
		if err := os.WriteFile("/proc/self/oom_score_adj", []byte(fmt.Sprint(*p.OOMScoreAdj)), 0); err != nil {
			return fmt.Errorf("set oom_score_adj %d: %w", *p.OOMScoreAdj, err)
		}
	}
	var cs capsets
	if p.Capabilities != nil {
		var err error
		if cs, err = parseCapsets(p.Capabilities); err != nil {
			return err
		}
		if err := dropBounding(log, cs.bounding); err != nil {
			return err
		}
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_KEEPCAPS): %w", err)
		}
	}
	if err := setUser(log, p.User); err != nil {
		return err
	}
	if p.Capabilities != nil {
		if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_KEEPCAPS, 0): %w", err)
		}
		if err := applyCaps(log, cs); err != nil {
			return err
		}
	}
	if p.NoNewPrivileges {
		log.Step("prctl(PR_SET_NO_NEW_PRIVS, 1)", "# at the exec, with util-linux: setpriv --no-new-privs PROGRAM (busybox: setpriv --nnp)")
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", err)
		}
	}
	umask := -1 // the caller's, as unshare(1) and nsenter(1) keep it
	switch {
	case p.User.Umask != nil:
		umask = int(*p.User.Umask)
	case newRoot:
		umask = 0o022 // runc's default for a container
	}
	if umask >= 0 {
		log.Step(fmt.Sprintf("umask(%#o)", umask), fmt.Sprintf("umask %04o", umask))
		unix.Umask(umask)
	}
	if p.Cwd != "" {
		log.Step(fmt.Sprintf("chdir(%q)", p.Cwd), "cd "+explain.Quote(p.Cwd))
		if err := os.Chdir(p.Cwd); err != nil {
			return fmt.Errorf("change to the working directory %q: %w (process.cwd must exist in the container)", p.Cwd, err)
		}
	}
	return nil
}

// setUser switches to the spec's uid, gid and supplementary groups.
// Skipped when they are already ours (as for root in flags mode).
func setUser(log *explain.Log, u specs.User) error {
	if u.UID == uint32(os.Getuid()) && u.GID == uint32(os.Getgid()) && len(u.AdditionalGids) == 0 {
		return nil
	}
	groups := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		groups[i] = int(g)
	}
	log.Step(fmt.Sprintf("setgroups(%v); setgid(%d); setuid(%d)", groups, u.GID, u.UID),
		fmt.Sprintf("# at the exec, with util-linux: setpriv --reuid=%d --regid=%d --groups=%s PROGRAM", u.UID, u.GID, strings.Trim(strings.ReplaceAll(fmt.Sprint(groups), " ", ","), "[]")))
	if err := syscall.Setgroups(groups); err != nil && !(errors.Is(err, syscall.EPERM) && len(groups) == 0) {
		return fmt.Errorf("setgroups(%v): %w (in a user namespace, /proc/PID/setgroups must say allow)", groups, err)
	}
	if err := syscall.Setgid(int(u.GID)); err != nil {
		return fmt.Errorf("setgid(%d): %w (is gid %d mapped in the user namespace?)", u.GID, err, u.GID)
	}
	if err := syscall.Setuid(int(u.UID)); err != nil {
		return fmt.Errorf("setuid(%d): %w (is uid %d mapped in the user namespace?)", u.UID, err, u.UID)
	}
	return nil
}

// lookPath finds the program to execute the way execvp(3) does, with the
// container's PATH, and says which of docker's codes a failure gets:
// 127 when there is no such program, 126 when it cannot be executed.
func lookPath(name string, env []string) (string, error) {
	check := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return &exitcode.Error{Code: 127, Err: fmt.Errorf("exec %q: %w", name, err)}
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return &exitcode.Error{Code: 126, Err: fmt.Errorf("exec %q: permission denied (not an executable file)", p)}
		}
		return nil
	}
	if strings.Contains(name, "/") {
		return name, check(name)
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if err := check(p); err == nil {
			return p, nil
		} else if e := err.(*exitcode.Error); e.Code == 126 && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", &exitcode.Error{Code: 127, Err: fmt.Errorf("exec %q: executable file not found in $PATH (%s)", name, path)}
}

// ulimits maps an rlimit to bash's ulimit option and the unit ulimit
// counts it in (bash's ulimit.def: 1024-byte blocks for sizes).
var ulimits = map[string]struct {
	opt  string
	unit uint64
}{
	"RLIMIT_AS": {"v", 1024}, "RLIMIT_CORE": {"c", 1024}, "RLIMIT_CPU": {"t", 1}, "RLIMIT_DATA": {"d", 1024},
	"RLIMIT_FSIZE": {"f", 1024}, "RLIMIT_LOCKS": {"x", 1}, "RLIMIT_MEMLOCK": {"l", 1024}, "RLIMIT_MSGQUEUE": {"q", 1},
	"RLIMIT_NICE": {"e", 1}, "RLIMIT_NOFILE": {"n", 1}, "RLIMIT_NPROC": {"u", 1}, "RLIMIT_RSS": {"m", 1024},
	"RLIMIT_RTPRIO": {"r", 1}, "RLIMIT_RTTIME": {"R", 1}, "RLIMIT_SIGPENDING": {"i", 1}, "RLIMIT_STACK": {"s", 1024},
}

// ulimitCommand is the shell's own way to set rl: the ulimit builtin,
// which needs no tool in the container (prlimit(1) is not in busybox).
// A limit ulimit cannot state in its units falls back to prlimit.
func ulimitCommand(rl specs.POSIXRlimit) string {
	u, ok := ulimits[rl.Type]
	value := func(v uint64) (string, bool) {
		if v == unix.RLIM_INFINITY {
			return "unlimited", true
		}
		return strconv.FormatUint(v/u.unit, 10), v%u.unit == 0
	}
	soft, okS := value(rl.Soft)
	hard, okH := value(rl.Hard)
	if !ok || !okS || !okH {
		return fmt.Sprintf("prlimit --%s=%d:%d --pid $$", strings.ToLower(strings.TrimPrefix(rl.Type, "RLIMIT_")), rl.Soft, rl.Hard)
	}
	if soft == hard {
		return fmt.Sprintf("ulimit -%s %s", u.opt, soft)
	}
	return fmt.Sprintf("ulimit -H%s %s && ulimit -S%s %s", u.opt, hard, u.opt, soft)
}
