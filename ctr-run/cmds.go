package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
)

// runFlags are docker run's flags that describe a container.
type runFlags struct {
	Name        string   `help:"Name the container (default: its id)."`
	Rm          bool     `help:"Remove the container and everything it made when it exits."`
	Interactive bool     `short:"i" help:"Keep stdin attached."`
	TTY         bool     `name:"tty" short:"t" help:"Give the container a pseudo-terminal."`
	Env         []string `short:"e" help:"Set an environment variable." placeholder:"KEY=VALUE"`
	EnvFile     []string `help:"Read environment variables from a file, one KEY=VALUE a line." placeholder:"FILE" type:"existingfile"`
	Workdir     string   `short:"w" help:"Working directory inside." placeholder:"DIR"`
	User        string   `short:"u" help:"Run as UID[:GID]." placeholder:"UID[:GID]"`
	Entrypoint  *string  `help:"Replace the image's ENTRYPOINT (and its CMD)." placeholder:"PROGRAM"`
	Hostname    string   `help:"Host name inside (default: the container id)."`
	Memory      string   `short:"m" help:"Memory limit (k, m, g suffixes)." placeholder:"SIZE"`
	MemorySwap  string   `help:"Memory plus swap limit; -1 for unlimited swap." placeholder:"SIZE"`
	Cpus        string   `help:"CPU time limit, in CPUs (0.5: half of one)." placeholder:"N"`
	CPUShares   string   `name:"cpu-shares" help:"Relative CPU weight (default 1024)." placeholder:"N"`
	PidsLimit   string   `help:"Maximum number of processes." placeholder:"N"`
	Publish     []string `short:"p" help:"Publish a port: [HOSTIP:]HOSTPORT:CTRPORT[/udp]." placeholder:"SPEC"`
	Volume      []string `short:"v" help:"NAME:/PATH (named volume) or /HOST:/PATH[:ro] (bind)." placeholder:"SPEC"`
	Tmpfs       []string `help:"Mount a tmpfs at PATH." placeholder:"PATH"`
	ReadOnly    bool     `help:"Mount the root filesystem read-only."`
	Network     string   `default:"bridge" help:"bridge (ctrkit0), host (the host's network), none (only lo), macvlan (with --parent), or a network made by net-bridge create, e.g. an overlay across hosts." placeholder:"NET"`
	Parent      string   `help:"--network macvlan: the host interface the container's macvlan hangs off (its LAN's subnet is taken from its address)." placeholder:"IF"`
	Init        bool     `help:"Run a tiny init as PID 1 that reaps zombies and forwards signals."`
	Pull        string   `default:"missing" enum:"always,missing,never" help:"Pull the image: always, missing (only when the store lacks it), never."`
	Privileged  bool     `help:"Give the container every capability and host device, no seccomp filter, no masked paths: the host's root in all but name."`
	SecurityOpt []string `help:"seccomp=unconfined, seccomp=PROFILE.json (docker's or the OCI format), or no-new-privileges (always on in ctrkit)." placeholder:"OPT"`
	Restart     string   `default:"no" help:"Restart policy: no, on-failure[:N], always or unless-stopped (the supervisor restarts it; stop, kill and rm end that)." placeholder:"POLICY"`
	LogOpt      []string `help:"Bound the log of a detached container: max-size=SIZE (default 20m), max-file=N (default 5); rotated as docker's json-file driver." placeholder:"KEY=VALUE"`
	Cgroupns    string   `default:"private" enum:"private,host" help:"private: a cgroup namespace of its own, so /proc/self/cgroup reads / and the read-only /sys/fs/cgroup shows the container's own cgroup and limits (docker's default on cgroup v2); host: the host's tree."`
	Userns      bool     `help:"Remap ids through a user namespace, like dockerd --userns-remap: root inside is uid 100000 on the host (--userns-map), and the image's files appear to it as its own through idmapped layers."`
	UsernsMap   string   `default:"0 100000 65536" help:"The uid and gid map of --userns: INSIDE OUTSIDE COUNT, as in /proc/PID/uid_map." placeholder:"MAP"`

	Image string   `arg:"" help:"Image to run (pulled if the store does not have it)."`
	Cmd   []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (default: the image's)."`
}

func (f *runFlags) options(stderr io.Writer) (lifecycle.Options, error) {
	env := append([]string(nil), f.Env...)
	for _, file := range f.EnvFile {
		data, err := os.ReadFile(file)
		if err != nil {
			return lifecycle.Options{}, err
		}
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
				env = append(env, line)
			}
		}
	}
	cmd := f.Cmd
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	o := lifecycle.Options{
		Name: f.Name, Image: f.Image, Pull: f.Pull, Cmd: cmd, Entrypoint: f.Entrypoint, Rm: f.Rm,
		Interactive: f.Interactive, TTY: f.TTY, Init: f.Init, ReadOnly: f.ReadOnly,
		Env: env, Workdir: f.Workdir, User: f.User, Hostname: f.Hostname, Network: f.Network, Parent: f.Parent,
		Publish: f.Publish, Volume: f.Volume, Tmpfs: f.Tmpfs, Privileged: f.Privileged, Restart: f.Restart,
		HostCgroupns: f.Cgroupns == "host",
	}
	if _, err := lifecycle.ParseRestart(f.Restart); err != nil {
		return o, err
	}
	if f.Rm && f.Restart != "" && f.Restart != "no" {
		return o, errors.New("conflicting options: --restart and --rm (a container that restarts is never removed when it exits)")
	}
	var err error
	if o.Log, err = lifecycle.ParseLogOpts(f.LogOpt); err != nil {
		return o, err
	}
	if f.Parent != "" && f.Network != "macvlan" {
		return lifecycle.Options{}, fmt.Errorf("--parent %s is for --network macvlan, not %q", f.Parent, f.Network)
	}
	if f.Userns {
		o.UsernsMap = f.UsernsMap
	}
	if f.Privileged {
		fmt.Fprintln(stderr, "ctr-run: warning: --privileged: every capability, every host device, no seccomp filter, no masked paths; the container's root is the host's root")
	}
	for _, opt := range f.SecurityOpt {
		if err := securityOpt(&o, opt); err != nil {
			return lifecycle.Options{}, err
		}
	}
	for _, l := range []struct{ flag, value string }{
		{"--memory", f.Memory}, {"--memory-swap", f.MemorySwap}, {"--cpus", f.Cpus},
		{"--cpu-shares", f.CPUShares}, {"--pids-limit", f.PidsLimit},
	} {
		if l.value != "" {
			o.Limits = append(o.Limits, l.flag+"="+l.value)
		}
	}
	return o, nil
}

// securityOpt reads one --security-opt, as docker does: KEY=VALUE (or the
// older KEY:VALUE).
func securityOpt(o *lifecycle.Options, opt string) error {
	sep := "="
	if !strings.Contains(opt, "=") {
		sep = ":"
	}
	key, value, _ := strings.Cut(opt, sep)
	switch {
	case key == "seccomp" && value == "unconfined":
		o.Seccomp = value
	case key == "seccomp" && value != "":
		path, err := filepath.Abs(value) // ns-enter may run later, elsewhere (-d)
		if err != nil {
			return err
		}
		if _, err := os.Stat(path); err != nil {
			return fmt.Errorf("--security-opt %q: %w", opt, err)
		}
		o.Seccomp = path
	case key == "no-new-privileges" && (value == "" || value == "true"):
		// ctrkit's specs always set no_new_privs, as runc spec's do.
	default:
		return fmt.Errorf("--security-opt %q: ctrkit knows seccomp=unconfined, seccomp=PROFILE.json and no-new-privileges", opt)
	}
	return nil
}

func needRoot() error {
	if os.Geteuid() != 0 {
		return &cli.ExitError{Code: 125, Err: errors.New("running containers needs root (namespaces, mounts, cgroups): run it with sudo")}
	}
	return nil
}

type RunCmd struct {
	runFlags
	diagramFlag
	Detach  bool `short:"d" help:"Run in the background; print the container id."`
	DryRun  bool `help:"Print the pipeline of ctrkit commands instead of running it."`
	Timings bool `help:"Print, on stderr at the end, how long each step took: every stage of the pipeline, ns-enter, each --rm step."`
}

func (c *RunCmd) Help() string {
	return `Runs, as processes joined by pipes, exactly what --dry-run prints:

  img-pull --pull missing IMAGE | fs-layer mount | cg-limit LIMITS | net-bridge attach
    > STATE/ID/config.json
  ns-enter --spec STATE/ID/config.json --pid --ipc --uts … -- CMD

then, for --rm, the command each stage recorded to undo what it made.
The exit status is the container's; 125 means ctr-run failed, 126 the
command could not be executed, 127 it was not found.`
}

func (c *RunCmd) Run(g *cli.Globals, s *Stdio) (err error) {
	if c.Timings {
		lifecycle.StartTimings()
		defer lifecycle.Times.Print(s.Stderr)
	}
	o, err := c.options(s.Stderr)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	if c.DryRun {
		return dryRun(g, s, o)
	}
	if err := needRoot(); err != nil {
		return err
	}
	o.Hold = o.Rm && !c.Detach // this process removes it: the stages hold what they made till then
	if c.Detach && (c.Interactive || c.TTY) {
		return &cli.ExitError{Code: 125, Err: errors.New("-d with -i or -t: a detached container has no terminal to talk to; drop one of them")}
	}
	env, stderr := lifecycle.Env(g.Root, g.State, g.Explain), s.Stderr
	if c.Diagram != "" { // diagram.go
		d, err := newDiagram(c.Diagram, g, c.Detach, s)
		if err != nil {
			return &cli.ExitError{Code: 125, Err: err}
		}
		env, stderr = lifecycle.Env(g.Root, g.State, true), d.w
		defer func() {
			if ferr := d.finish(); ferr != nil {
				err = errors.Join(err, &cli.ExitError{Code: 125, Err: ferr})
			}
		}()
	}
	ctr, err := lifecycle.Create(g.State, o, env, stderr)
	if err != nil {
		return err
	}
	if c.Detach {
		if err := ctr.Detach(self(), []string{"supervise", ctr.ID}, env, stderr); err != nil {
			return &cli.ExitError{Code: 125, Err: err}
		}
		fmt.Fprintln(s.Stdout, ctr.ID)
		return nil
	}
	return exit(ctr.Start(env, stderr))
}

// exit turns a container's status into ctr-run's.
func exit(status int, err error) error {
	if err != nil {
		return &cli.ExitError{Code: max(status, 125), Err: err}
	}
	if status != 0 {
		return &cli.ExitError{Code: status}
	}
	return nil
}

func self() string {
	p, err := os.Executable()
	if err != nil {
		return "/proc/self/exe"
	}
	return p
}

// dryRun prints the shell lines that run the container as ctr-run would.
func dryRun(g *cli.Globals, s *Stdio, o lifecycle.Options) error {
	id := spec.NewID()
	dir := filepath.Join(g.State, id)
	c := &lifecycle.Container{Meta: lifecycle.Meta{ID: id}, Dir: dir}
	var entrypoint []string
	if len(o.Cmd) > 0 && o.Entrypoint == nil {
		entrypoint = lifecycle.ImageEntrypoint(g.Root, o.Image, lifecycle.Env(g.Root, g.State, false))
	}
	fmt.Fprintf(s.Stdout, "mkdir -p %s\n", explain.Quote(dir))
	fmt.Fprintln(s.Stdout, o.Pipeline(id).Shell(c.Path("config.json")))
	fmt.Fprintln(s.Stdout, o.NsEnter(c, entrypoint))
	undo := fmt.Sprintf("net-bridge detach %s; cg-limit rm %s; fs-layer rm %s; rm -r %s", id, id, id, explain.Quote(dir))
	if o.Rm {
		fmt.Fprintln(s.Stdout, undo)
	} else {
		fmt.Fprintln(s.Stdout, "# to remove it: "+undo)
	}
	return nil
}

type CreateCmd struct {
	runFlags
}

func (c *CreateCmd) Run(g *cli.Globals, s *Stdio) error {
	if err := needRoot(); err != nil {
		return err
	}
	o, err := c.options(s.Stderr)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	ctr, err := lifecycle.Create(g.State, o, lifecycle.Env(g.Root, g.State, g.Explain), s.Stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.Stdout, ctr.ID)
	return nil
}

type StartCmd struct {
	Attach    bool   `short:"a" help:"Stay attached: its output here, its exit status ours."`
	Container string `arg:"" help:"Container name or id."`
}

func (c *StartCmd) Run(g *cli.Globals, s *Stdio) error {
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	switch st := ctr.Status(); {
	case strings.HasPrefix(st, "exited"):
		// docker start of an exited container runs it again.
		if err := ctr.Rewind(); err != nil {
			return &cli.ExitError{Code: 125, Err: err}
		}
	case st != "created":
		return &cli.ExitError{Code: 125, Err: fmt.Errorf("container %s is %s: only a created or exited container can start", ctr.Name, st)}
	}
	env := lifecycle.Env(g.Root, g.State, g.Explain)
	if c.Attach {
		return exit(ctr.Start(env, s.Stderr))
	}
	if err := ctr.Detach(self(), []string{"supervise", ctr.ID}, env, s.Stderr); err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	fmt.Fprintln(s.Stdout, ctr.ID)
	return nil
}

type SuperviseCmd struct {
	Container string `arg:""`
}

func (c *SuperviseCmd) Run(g *cli.Globals, s *Stdio) error {
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return err
	}
	return exit(ctr.Supervise(lifecycle.Env(g.Root, g.State, g.Explain)))
}
