package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	"ctrkit/ns-enter/container"
	"ctrkit/ns-enter/namespace"
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

// kinds lists the namespace kinds the flags ask for, implied ones included.
func (f *specFlags) kinds() []namespace.Kind {
	want := map[string]bool{
		"pid": f.PID, "net": f.Net, "ipc": f.IPC, "uts": f.UTS || f.Hostname != "",
		"mnt":    f.Mount || f.MountProc || f.Rootfs != "",
		"user":   f.User || f.MapRoot || len(f.UIDMap)+len(f.GIDMap) > 0,
		"cgroup": f.Cgroup,
		"time":   f.Time || f.TimeOffset != "",
	}
	var ks []namespace.Kind
	for _, k := range namespace.Kinds {
		if f.All || want[k.Name] {
			ks = append(ks, k)
		}
	}
	return ks
}

// join points the spec at the namespaces of --target, like nsenter(1).
// inContainer says s is the target container's own spec, whose cwd is a
// path inside it.
func (f *specFlags) join(s *specs.Spec, kinds []namespace.Kind, inContainer bool) error {
	es, err := namespace.Of(f.Target)
	if err != nil {
		return fmt.Errorf("--target: %w", err)
	}
	if f.Rootfs != "" || f.MountProc || f.MapRoot || len(f.UIDMap)+len(f.GIDMap) > 0 {
		return errors.New("--target joins existing namespaces: --rootfs, --mount-proc and id maps belong to new ones")
	}
	self, err := namespace.Of(os.Getpid())
	if err != nil {
		return err
	}
	for i, e := range es {
		if e.Inode == self[i].Inode {
			continue // already ours; the kernel refuses to re-join a user namespace
		}
		chosen := len(kinds) == 0
		for _, k := range kinds {
			chosen = chosen || k.Name == e.Kind.Name
		}
		if !chosen {
			continue
		}
		addNamespace(s, specs.LinuxNamespace{Type: e.Kind.OCI, Path: e.Kind.Path(f.Target)})
		if e.Kind.Name == "mnt" && f.Workdir == "" && !inContainer {
			s.Process.Cwd = "/" // setns(CLONE_NEWNS) moves us to the namespace's root
		}
	}
	if len(s.Linux.Namespaces) == 0 {
		return fmt.Errorf("--target %d: the process shares those namespaces with ns-enter already; nothing to join", f.Target)
	}
	return nil
}

// idMaps fills the user namespace's id maps from the flags.
func (f *specFlags) idMaps(s *specs.Spec) error {
	newUser := false
	for _, ns := range s.Linux.Namespaces {
		newUser = newUser || ns.Type == specs.UserNamespace && ns.Path == ""
	}
	if f.MapRoot || newUser && len(f.UIDMap) == 0 && len(s.Linux.UIDMappings) == 0 {
		// Without a map every id inside is the overflow id 65534 and the
		// command loses its capabilities at execve; map root like unshare -r.
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	}
	parse := func(lines []string) ([]specs.LinuxIDMapping, error) {
		var ms []specs.LinuxIDMapping
		for _, l := range lines {
			m, err := namespace.ParseIDMap(l)
			if err != nil {
				return nil, err
			}
			ms = append(ms, m)
		}
		return ms, nil
	}
	uids, err := parse(f.UIDMap)
	if err != nil {
		return fmt.Errorf("--uid-map: %w", err)
	}
	gids, err := parse(f.GIDMap)
	if err != nil {
		return fmt.Errorf("--gid-map: %w", err)
	}
	if len(gids) == 0 {
		gids = uids
	}
	if len(uids) > 0 {
		s.Linux.UIDMappings, s.Linux.GIDMappings = uids, gids
	}
	if f.User || f.MapRoot || len(uids) > 0 {
		// Inside, we are whoever uid and gid 0 map to.
		if s.Process.User.UID == uint32(os.Getuid()) && s.Process.User.GID == uint32(os.Getgid()) {
			s.Process.User = specs.User{}
		}
	}
	return nil
}

func addNamespace(s *specs.Spec, ns specs.LinuxNamespace) {
	for i, have := range s.Linux.Namespaces {
		if have.Type == ns.Type {
			s.Linux.Namespaces[i] = ns
			return
		}
	}
	s.Linux.Namespaces = append(s.Linux.Namespaces, ns)
}

// input is where a command's base spec comes from: --bundle, --spec or
// stdin.
type input struct {
	Bundle   string `help:"Run DIR/config.json, with root.path relative to DIR, like runc run --bundle." type:"path" placeholder:"DIR"`
	SpecFile string `name:"spec" help:"Read the spec from FILE (\"-\": stdin; \"none\": do not read stdin even when it is a pipe)." placeholder:"FILE"`
}

// load reads the base spec; fromStdin says whether stdin carried it.
func (in *input) load() (s *specs.Spec, fromStdin bool, err error) {
	switch {
	case in.Bundle != "":
		f, err := os.Open(filepath.Join(in.Bundle, "config.json"))
		if err != nil {
			return nil, false, fmt.Errorf("--bundle: %w", err)
		}
		defer f.Close()
		s, err := spec.Read(f)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", f.Name(), err)
		}
		return s, false, nil
	case in.SpecFile == "none":
		return nil, false, nil
	case in.SpecFile == "-":
		s, err := spec.Read(os.Stdin)
		return s, true, err
	case in.SpecFile != "":
		data, err := os.ReadFile(in.SpecFile)
		if err != nil {
			return nil, false, fmt.Errorf("--spec: %w", err)
		}
		s, err := spec.Parse(data)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", in.SpecFile, err)
		}
		return s, false, nil
	}
	s, err = spec.FromStdin(os.Stdin)
	if errors.Is(err, spec.ErrNotJSON) {
		return nil, false, fmt.Errorf("stdin: %w (stdin is a pipe, so ns-enter reads a runtime spec from it; to give the command input instead, add --spec none)", err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("stdin: %w", err)
	}
	return s, s != nil, nil
}

type RunCmd struct {
	specFlags
	input
	Interactive  bool   `short:"i" help:"Keep the command's stdin attached; when stdin carried the spec, read the keyboard from /dev/tty."`
	Init         bool   `help:"Run a tiny init as PID 1 that reaps zombies and forwards signals, like docker --init."`
	PIDFile      string `name:"pid-file" help:"Write the container's PID (as the host sees it) to FILE once it runs, like runc --pid-file." placeholder:"FILE"`
	PreserveFDs  int    `name:"preserve-fds" help:"Pass descriptors 3…3+N-1 on to the command, like runc --preserve-fds; every other descriptor above 2 is closed (systemd's LISTEN_FDS sockets are passed too, before them)." placeholder:"N"`
	NoNewKeyring bool   `name:"no-new-keyring" help:"Keep the caller's session keyring instead of giving the container a new one, like runc --no-new-keyring."`
	Detach       bool   `short:"d" help:"Exit 0 once the container's process runs, leaving it to the caller, who must be its subreaper (prctl PR_SET_CHILD_SUBREAPER) to reap it: what ctr-run -d's supervisor does, as runc run -d under a shim. Not with -t (detach.go)."`
}

func (c *RunCmd) Help() string {
	return `Without a spec, ns-enter works like unshare(1): the command runs in new
namespaces of the kinds given, with your environment and working directory.
With --target PID it works like nsenter(1) and joins PID's namespaces, the
mount and user namespaces included (see docs/01-namespaces.md for why that
needs code that runs before the Go runtime).

With a spec on stdin, --spec or --bundle it works like runc run, and the
flags add to the spec. The exit status is the command's (128+N if signal N
killed it); 125 means ns-enter failed, 126 the command could not be
executed, 127 it was not found.`
}

func (c *RunCmd) Run(g *cli.Globals) error {
	if os.Geteuid() != 0 {
		return &cli.ExitError{Code: 125, Err: errors.New("making or joining namespaces needs root (CAP_SYS_ADMIN): run it with sudo")}
	}
	base, fromStdin, err := c.load()
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	s, err := c.build(base)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	stdin := os.Stdin
	if fromStdin {
		stdin = nil // used up by the spec
		if c.Interactive || c.TTY {
			if stdin, err = os.OpenFile("/dev/tty", os.O_RDWR, 0); err != nil {
				return &cli.ExitError{Code: 125, Err: fmt.Errorf("-i/-t: stdin carried the spec and there is no terminal to read the keyboard from: %w", err)}
			}
			defer stdin.Close()
		}
	}
	if c.PreserveFDs < 0 {
		return &cli.ExitError{Code: 125, Err: fmt.Errorf("--preserve-fds %d: want a count, 0 or more", c.PreserveFDs)}
	}
	listen := container.ListenFDs()
	if listen > 0 { // systemd socket activation, passed on as runc does
		s.Process.Env = append(s.Process.Env, "LISTEN_FDS="+strconv.Itoa(listen), "LISTEN_PID=1")
	}
	bundle := c.Bundle
	if bundle == "" {
		bundle, _ = os.Getwd()
	}
	// Explain lines go to stderr, or where CTRKIT_EXPLAIN_FD says until
	// the container runs (ctr-run -d: its stderr is the container's log).
	var explainOut io.Writer = os.Stderr
	explainTo := explain.FD()
	if explainTo != nil {
		explainOut = explainTo
	}
	status, err := runOrDetach(s, container.Options{ // detach.go
		Bundle: bundle, Detach: c.Detach, Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Init: c.Init, PIDFile: c.PIDFile, PassFDs: listen + c.PreserveFDs, NoNewKeyring: c.NoNewKeyring, Explain: g.Explain,
		Log: g.Log("ns-enter", explainOut), ExplainTo: explainTo,
	})
	if err != nil {
		return &cli.ExitError{Code: status, Err: err}
	}
	if status != 0 {
		return &cli.ExitError{Code: status}
	}
	return nil
}

type SpecCmd struct {
	specFlags
	input
}

func (c *SpecCmd) Help() string {
	return `Prints what ns-enter would run, as an OCI runtime spec (config.json): save
it in a bundle for runc run, edit it with jq, or pipe it to ns-enter.
With a spec on stdin, prints it with the flags applied.`
}

func (c *SpecCmd) Run(g *cli.Globals) error {
	base, _, err := c.load()
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	s, err := c.build(base)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	return spec.Write(os.Stdout, s)
}
