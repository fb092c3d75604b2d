package main

// The flags that describe a container (run and spec share them) and how
// they make a spec: build.

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"ctrkit/internal/spec"
	"ctrkit/ns-enter/container"
	"ctrkit/ns-enter/seccomp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specFlags describe a container; run and spec share them.
type specFlags struct {
	PID    bool `name:"pid" help:"New pid namespace: the command is PID 1 and sees only its descendants."`
	Net    bool `help:"New network namespace: only a loopback device, down."`
	IPC    bool `name:"ipc" help:"New IPC namespace: its own System V IPC objects and POSIX message queues."`
	Mount  bool `help:"New mount namespace: mounts made inside stay inside (propagation made private)."`
	UTS    bool `name:"uts" help:"New UTS namespace: its own host name."`
	User   bool `help:"New user namespace: ids mapped by --map-root or --uid-map/--gid-map."`
	Cgroup bool `help:"New cgroup namespace: /proc/self/cgroup shows the current cgroup as /."`
	Time   bool `help:"New time namespace: the monotonic and boot-time clocks shifted by --time-offset (Linux 5.6)."`
	All    bool `help:"All of the kinds above."`

	Target     int      `help:"Join the namespaces of running process PID (of the kinds given, or all that differ from ours) instead of making new ones. With a container's spec (--spec), run like runc exec: as the container's user, with its capabilities, seccomp filter, environment and cgroup." placeholder:"PID"`
	Hostname   string   `help:"Host name inside (implies --uts)." placeholder:"NAME"`
	MountProc  bool     `help:"Mount a fresh /proc (implies --mount; use with --pid)."`
	MapRoot    bool     `help:"Map root inside to your own uid and gid outside (implies --user; the default map of a new user namespace)."`
	UIDMap     []string `name:"uid-map" sep:"none" help:"Map uids \"INSIDE OUTSIDE COUNT\", as in /proc/PID/uid_map; repeatable (implies --user)." placeholder:"MAP"`
	GIDMap     []string `name:"gid-map" sep:"none" help:"Map gids, like --uid-map (default: the same as the uid map)." placeholder:"MAP"`
	Rootfs     string   `help:"Switch into DIR with pivot_root, with /proc, a minimal /dev and a read-only /sys (implies --mount)." placeholder:"DIR"`
	Env        []string `short:"e" help:"Set an environment variable inside." placeholder:"KEY=VALUE"`
	Workdir    string   `short:"w" help:"Working directory inside." placeholder:"DIR"`
	TTY        bool     `name:"tty" short:"t" help:"Give the command a pseudo-terminal."`
	RunAs      string   `name:"run-as" short:"u" help:"Run the command as UID[:GID] inside, like docker run -u." placeholder:"UID[:GID]"`
	Cgroups    string   `name:"cgroups-path" help:"Join the existing cgroup PATH (linux.cgroupsPath, made by cg-limit) in every hierarchy." placeholder:"PATH"`
	Privileged bool     `help:"Give the container everything back, like docker run --privileged: all capabilities, no seccomp filter, no masked paths, a writable /sys, the host's devices."`
	Seccomp    string   `help:"Seccomp PROFILE: \"unconfined\" removes linux.seccomp; else a file with an OCI linux.seccomp object or a docker profile (like docker run --security-opt seccomp=FILE)." placeholder:"PROFILE"`
	TimeOffset string   `name:"time-offset" help:"Shift the new time namespace's clocks, e.g. monotonic=86400,boottime=24h: seconds or a duration, per clock (linux.timeOffsets; implies --time). uptime inside then reads the boot-time clock plus the offset." placeholder:"CLOCK=OFFSET,…"`
	NoNewPriv  bool     `name:"no-new-privs" help:"Set process.noNewPrivileges: execve of a set-user-id or file-capability program grants nothing (prctl PR_SET_NO_NEW_PRIVS)."`

	Args []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (default: the spec's, or $SHELL)."`
}

// build applies the flags to base, the spec read from stdin or --bundle (nil
// when there is none). Without a base, the flags describe an unshare-like
// run: the caller's environment, directory and identity, all capabilities;
// with --rootfs, a container like `runc spec` describes. With --target and a
// base, the base is a running container's spec and the flags describe a
// process to run in it, like runc exec.
func (f *specFlags) build(base *specs.Spec) (*specs.Spec, error) {
	s := base
	switch {
	case s != nil && f.Target != 0:
		s = container.ExecSpec(s)
	case s == nil && f.Rootfs != "":
		s = spec.Default(f.Rootfs, []string{"sh"})
	case s == nil:
		cwd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		shell := os.Getenv("SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		s = &specs.Spec{
			Version: specs.Version,
			Process: &specs.Process{
				Args: []string{shell}, Env: os.Environ(), Cwd: cwd,
				User: specs.User{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())},
			},
		}
	case f.Rootfs != "":
		if s.Root == nil {
			s.Root = &specs.Root{}
		}
		s.Root.Path = f.Rootfs
	}
	if s.Process == nil {
		s.Process = &specs.Process{Cwd: "/"}
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	if args := f.command(); len(args) > 0 {
		s.Process.Args = args
	}
	s.Process.Env = append(s.Process.Env, f.Env...)
	if f.Workdir != "" {
		s.Process.Cwd = f.Workdir
	}
	if f.TTY {
		s.Process.Terminal = true
	}
	if f.Hostname != "" {
		s.Hostname = f.Hostname
	}
	if f.Cgroups != "" {
		s.Linux.CgroupsPath = f.Cgroups
	}
	if f.RunAs != "" {
		u, err := parseRunAs(f.RunAs)
		if err != nil {
			return nil, err
		}
		s.Process.User = u
	}

	if f.NoNewPriv {
		s.Process.NoNewPrivileges = true
	}
	if err := f.seccomp(s); err != nil {
		return nil, err
	}

	if f.Privileged {
		container.Privileged(s)
		if f.Target != 0 { // the container's /dev and cgroup are made already
			s.Linux.Devices, s.Linux.Resources = nil, nil
		}
	}
	kinds := f.kinds()
	if f.Target != 0 {
		return s, f.join(s, kinds, base != nil)
	}
	if f.MountProc {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}})
	}
	for _, k := range kinds {
		addNamespace(s, specs.LinuxNamespace{Type: k.OCI})
	}
	if f.TimeOffset != "" {
		offsets, err := parseTimeOffsets(f.TimeOffset)
		if err != nil {
			return nil, err
		}
		s.Linux.TimeOffsets = offsets
	}
	return s, f.idMaps(s)
}

// seccomp applies --seccomp. A profile in docker's format is resolved for
// the spec's capabilities, so this comes after everything that sets them.
func (f *specFlags) seccomp(s *specs.Spec) error {
	switch f.Seccomp {
	case "":
		return nil
	case "unconfined":
		s.Linux.Seccomp = nil
		return nil
	}
	data, err := os.ReadFile(f.Seccomp)
	if err != nil {
		return fmt.Errorf("--seccomp: %w (give a profile file, or \"unconfined\")", err)
	}
	p, err := seccomp.Parse(data, s)
	if err != nil {
		return fmt.Errorf("--seccomp %s: %w", f.Seccomp, err)
	}
	s.Linux.Seccomp = p
	return nil
}

// parseTimeOffsets reads --time-offset: CLOCK=OFFSET pairs, the offset in
// seconds or as a Go duration ("24h", "-90s").
func parseTimeOffsets(v string) (map[string]specs.LinuxTimeOffset, error) {
	m := map[string]specs.LinuxTimeOffset{}
	for _, pair := range strings.Split(v, ",") {
		clock, val, ok := strings.Cut(pair, "=")
		if !ok || clock != "monotonic" && clock != "boottime" {
			return nil, fmt.Errorf("--time-offset %q: want CLOCK=OFFSET pairs where CLOCK is monotonic or boottime, e.g. monotonic=86400,boottime=24h", v)
		}
		d, err := time.ParseDuration(val)
		if secs, err2 := strconv.ParseInt(val, 10, 64); err2 == nil {
			d, err = time.Duration(secs)*time.Second, nil
		}
		if err != nil {
			return nil, fmt.Errorf("--time-offset %q: %q is neither seconds nor a duration like 24h", v, val)
		}
		secs, nsec := int64(d/time.Second), int64(d%time.Second)
		if nsec < 0 { // the kernel wants 0 ≤ nanoseconds < 1e9
			secs, nsec = secs-1, nsec+int64(time.Second)
		}
		m[clock] = specs.LinuxTimeOffset{Secs: secs, Nanosecs: uint32(nsec)}
	}
	return m, nil
}

// parseRunAs reads -u UID[:GID]: numbers, since names would need the
// container's /etc/passwd.
func parseRunAs(v string) (specs.User, error) {
	uidStr, gidStr, hasGID := strings.Cut(v, ":")
	uid, err := strconv.ParseUint(uidStr, 10, 32)
	if err != nil {
		return specs.User{}, fmt.Errorf("-u %q: want UID[:GID] as numbers, e.g. 1000:1000", v)
	}
	gid := uid
	if hasGID {
		if gid, err = strconv.ParseUint(gidStr, 10, 32); err != nil {
			return specs.User{}, fmt.Errorf("-u %q: want UID[:GID] as numbers, e.g. 1000:1000", v)
		}
	}
	return specs.User{UID: uint32(uid), GID: uint32(gid)}, nil
}

// command is the command after the flags, without the "--" that kong
// passes through.
func (f *specFlags) command() []string {
	if len(f.Args) > 0 && f.Args[0] == "--" {
		return f.Args[1:]
	}
	return f.Args
}
