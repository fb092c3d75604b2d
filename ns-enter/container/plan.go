package container

// The plan: what Run works out from the spec before anything is made (the
// namespaces to create and to join, the root), and how --explain shows it.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/ns-enter/namespace"
	"ctrkit/ns-enter/seccomp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

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
	bindShell []string    // for --explain: the shell's way to those binds (userns.go)
	// callersMountNS: the mount namespace joined by path is ns-enter's own.
	callersMountNS bool
	joined         []joined
	// seccomp waits for the filter's BPF, generated meanwhile (seccomp.go).
	seccomp func() (*seccomp.Program, error)
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
			if seen[specs.MountNamespace] {
				return nil, errors.New("a root filesystem needs a mount namespace of the container's own, new or joined by path: the one linux.namespaces names is ns-enter's own, and pivot_root would change its root")
			}
			// No mount namespace at all: the container inherits the
			// caller's, and its root and mounts are set up there (callermounts.go).
			if err := checkCallerMounts(s); err != nil {
				return nil, err
			}
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
	if len(s.Mounts) > 0 && !p.ownMountNS() && p.rootfs == "" {
		return nil, errors.New("mounts need a new mount namespace, or a root filesystem to go below: add --mount, or they would land on the host's own paths")
	}
	if p.seccomp, err = compileSeccomp(s, seccomp.Cache{Dir: o.SeccompCache}); err != nil {
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
// nsenter(1) line that does the same. Each starts a shell in the new (or
// joined) namespaces, which the steps that follow are typed into, as they
// are run in the container's process: replayed as a script (bash <
// script), that shell reads the rest of the script.
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
		log.Step(fmt.Sprintf("clone(%s|SIGCHLD)", namespace.FlagNames(p.clone)), explain.Join(shell)+" bash")
	}
	for _, j := range p.joined {
		enter := fmt.Sprintf("nsenter %s=%s bash", j.kind.Option, j.path)
		if p.clone != 0 {
			enter = "exec " + enter // the unshare'd shell becomes the one in the namespace: still PID 1
		}
		log.Step(fmt.Sprintf("setns(open(%q), %s), in C before the Go runtime starts", j.path, namespace.FlagNames(j.kind.Flag)), enter)
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
		return &exitcode.Error{Code: 125, Err: fmt.Errorf("clone(%s): %w: creating namespaces needs root (CAP_SYS_ADMIN); run with sudo", namespace.FlagNames(flags), err)}
	case errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS):
		return &exitcode.Error{Code: 125, Err: fmt.Errorf("clone(%s): %w: the kernel refused; check the id maps and /proc/sys/user/max_*_namespaces", namespace.FlagNames(flags), err)}
	}
	return &exitcode.Error{Code: 125, Err: fmt.Errorf("start the container (clone(%s)): %w", namespace.FlagNames(flags), err)}
}
