package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	"ctrkit/internal/store"
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

func (f *runFlags) options() (lifecycle.Options, error) {
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
		fmt.Fprintln(os.Stderr, "ctr-run: warning: --privileged: every capability, every host device, no seccomp filter, no masked paths; the container's root is the host's root")
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

func (c *RunCmd) Run(g *cli.Globals) error {
	if c.Timings {
		lifecycle.StartTimings()
		defer lifecycle.Times.Print(os.Stderr)
	}
	o, err := c.options()
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	if c.DryRun {
		return dryRun(g, o)
	}
	if err := needRoot(); err != nil {
		return err
	}
	if c.Detach && (c.Interactive || c.TTY) {
		return &cli.ExitError{Code: 125, Err: errors.New("-d with -i or -t: a detached container has no terminal to talk to; drop one of them")}
	}
	env := lifecycle.Env(g.Root, g.State, g.Explain)
	ctr, err := lifecycle.Create(g.State, o, env, os.Stderr)
	if err != nil {
		return err
	}
	if c.Detach {
		if err := ctr.Detach(self(), []string{"supervise", ctr.ID}, env, os.Stderr); err != nil {
			return &cli.ExitError{Code: 125, Err: err}
		}
		fmt.Println(ctr.ID)
		return nil
	}
	return exit(ctr.Start(env, os.Stderr))
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
func dryRun(g *cli.Globals, o lifecycle.Options) error {
	id := spec.NewID()
	dir := filepath.Join(g.State, id)
	c := &lifecycle.Container{Meta: lifecycle.Meta{ID: id}, Dir: dir}
	var entrypoint []string
	if len(o.Cmd) > 0 && o.Entrypoint == nil {
		entrypoint = lifecycle.ImageEntrypoint(g.Root, o.Image, lifecycle.Env(g.Root, g.State, false))
	}
	fmt.Printf("mkdir -p %s\n", explain.Quote(dir))
	fmt.Println(o.Pipeline(id).Shell(c.Path("config.json")))
	fmt.Println(o.NsEnter(c, entrypoint))
	undo := fmt.Sprintf("net-bridge detach %s; cg-limit rm %s; fs-layer rm %s; rm -r %s", id, id, id, explain.Quote(dir))
	if o.Rm {
		fmt.Println(undo)
	} else {
		fmt.Println("# to remove it: " + undo)
	}
	return nil
}

type CreateCmd struct {
	runFlags
}

func (c *CreateCmd) Run(g *cli.Globals) error {
	if err := needRoot(); err != nil {
		return err
	}
	o, err := c.options()
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	ctr, err := lifecycle.Create(g.State, o, lifecycle.Env(g.Root, g.State, g.Explain), os.Stderr)
	if err != nil {
		return err
	}
	fmt.Println(ctr.ID)
	return nil
}

type StartCmd struct {
	Attach    bool   `short:"a" help:"Stay attached: its output here, its exit status ours."`
	Container string `arg:"" help:"Container name or id."`
}

func (c *StartCmd) Run(g *cli.Globals) error {
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
		return exit(ctr.Start(env, os.Stderr))
	}
	if err := ctr.Detach(self(), []string{"supervise", ctr.ID}, env, os.Stderr); err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	fmt.Println(ctr.ID)
	return nil
}

type SuperviseCmd struct {
	Container string `arg:""`
}

func (c *SuperviseCmd) Run(g *cli.Globals) error {
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return err
	}
	return exit(ctr.Supervise(lifecycle.Env(g.Root, g.State, g.Explain)))
}

type PsCmd struct {
	All bool `short:"a" help:"Also list containers that are not running."`
}

func (c *PsCmd) Run(g *cli.Globals) error {
	cs, err := lifecycle.List(g.State)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tNAME")
	for _, ctr := range cs {
		status := ctr.Status()
		if !c.All && !ctr.Running() {
			continue
		}
		if n := ctr.Restarts(); n > 0 {
			status += fmt.Sprintf(", %d restarts", n)
		}
		cmd := explain.Join(ctr.Command)
		if len(cmd) > 30 {
			cmd = cmd[:29] + "…"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%s\t%s\n", ctr.ID, store.ShortName(ctr.Image), cmd,
			time.Since(ctr.Created).Round(time.Second), status, ctr.Name)
	}
	return w.Flush()
}

type ExecCmd struct {
	Interactive bool     `short:"i" help:"Keep stdin attached."`
	TTY         bool     `name:"tty" short:"t" help:"Give the command a pseudo-terminal."`
	Privileged  bool     `help:"Run with every capability and no seccomp filter (the container's user, environment and cgroup stay)."`
	Env         []string `short:"e" help:"Set an environment variable." placeholder:"KEY=VALUE"`
	Workdir     string   `short:"w" help:"Working directory inside." placeholder:"DIR"`
	User        string   `short:"u" help:"Run as UID[:GID]." placeholder:"UID[:GID]"`
	Container   string   `arg:"" help:"Container name or id."`
	Cmd         []string `arg:"" passthrough:"" help:"Command and arguments."`
}

func (c *ExecCmd) Run(g *cli.Globals) error {
	if err := needRoot(); err != nil {
		return err
	}
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	cmd := c.Cmd
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	st, env, err := ctr.Exec(cmd, lifecycle.ExecOptions{Interactive: c.Interactive, TTY: c.TTY, Privileged: c.Privileged, Env: c.Env, Workdir: c.Workdir, User: c.User},
		lifecycle.Env(g.Root, g.State, g.Explain))
	if err != nil {
		return err
	}
	return exit(lifecycle.RunStage(st, env))
}

type LogsCmd struct {
	Follow    bool   `short:"f" help:"Keep printing until the container ends."`
	Container string `arg:"" help:"Container name or id."`
}

func (c *LogsCmd) Run(g *cli.Globals) error {
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return err
	}
	return ctr.Logs(os.Stdout, c.Follow)
}

type StopCmd struct {
	Time       int      `short:"t" default:"10" help:"Seconds to wait after SIGTERM before SIGKILL."`
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *StopCmd) Run(g *cli.Globals) error {
	for _, ref := range c.Containers {
		ctr, err := lifecycle.Find(g.State, ref)
		if err != nil {
			return err
		}
		if err := ctr.Stop(syscall.SIGTERM, time.Duration(c.Time)*time.Second); err != nil {
			return err
		}
		fmt.Println(ref)
	}
	return nil
}

type KillCmd struct {
	Signal     string   `short:"s" default:"KILL" help:"Signal to send, by name or number."`
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *KillCmd) Run(g *cli.Globals) error {
	sig, err := cli.ParseSignal(c.Signal)
	if err != nil {
		return err
	}
	for _, ref := range c.Containers {
		ctr, err := lifecycle.Find(g.State, ref)
		if err != nil {
			return err
		}
		if err := ctr.Kill(sig); err != nil {
			return err
		}
		fmt.Println(ref)
	}
	return nil
}

type RmCmd struct {
	Force      bool     `short:"f" help:"Kill a running container first."`
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *RmCmd) Run(g *cli.Globals) error {
	env := lifecycle.Env(g.Root, g.State, g.Explain)
	for _, ref := range c.Containers {
		ctr, err := lifecycle.Find(g.State, ref)
		if err != nil {
			return err
		}
		if err := ctr.Remove(env, os.Stderr, c.Force); err != nil {
			return err
		}
		fmt.Println(ref)
	}
	return nil
}

type InspectCmd struct {
	Container string `arg:"" help:"Container name or id."`
}

func (c *InspectCmd) Run(g *cli.Globals) error {
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return err
	}
	s, _ := ctr.Spec()
	rs, _ := spec.StateResources(g.State, ctr.ID)
	out := map[string]any{
		"meta": ctr.Meta, "status": ctr.Status(), "pid": ctr.PID(), "stateDir": ctr.Dir,
		"spec": s, "resources": rs, "restartCount": ctr.Restarts(),
	}
	if id := ctr.Process(); id.PID != 0 {
		out["process"] = id // PID and start time: the identity signals check
	}
	if ctr.Exited() {
		out["exitCode"] = ctr.ExitCode()
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type StatsCmd struct {
	Container string `arg:"" help:"Container name or id."`
}

func (c *StatsCmd) Run(g *cli.Globals) error {
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return err
	}
	return exit(lifecycle.RunStage(lifecycle.Stage{Command: "cg-limit", Args: []string{"stats", ctr.ID}}, lifecycle.Env(g.Root, g.State, g.Explain)))
}

type GcCmd struct {
	DryRun bool `help:"Only list what gc would remove."`
}

func (c *GcCmd) Help() string {
	return `Removes containers a crash left behind, with everything their stages
recorded (mount, cgroup, address): a ctr-run killed while creating one (its
lease, STATE/ID/creator, names a process that is gone), a container that
ended with its supervisor, an --rm container whose removal did not finish.
Prints each id it removed on stdout, and why on stderr.

A container that still runs is never killed, even when its supervisor or
foreground ctr-run died: gc lists it, and ctr-run rm -f removes it.`
}

func (c *GcCmd) Run(g *cli.Globals) error {
	if err := needRoot(); err != nil {
		return err
	}
	removed, kept, err := lifecycle.GC(g.State, lifecycle.Env(g.Root, g.State, g.Explain), os.Stderr, c.DryRun)
	verb := "removed"
	if c.DryRun {
		verb = "would remove"
	}
	for _, r := range removed {
		fmt.Println(r.ID)
		fmt.Fprintf(os.Stderr, "ctr-run gc: %s %s (%s): %s\n", verb, r.ID, r.Name, r.Why)
	}
	for _, k := range kept {
		fmt.Fprintf(os.Stderr, "ctr-run gc: kept %s (%s): it still runs (pid %d) but its supervisor is gone; ctr-run rm -f %s removes it\n", k.ID, k.Name, k.PID(), k.Name)
	}
	return err
}

type RestartCmd struct {
	Time       int      `short:"t" default:"10" help:"Seconds to wait after SIGTERM before SIGKILL."`
	Containers []string `arg:"" help:"Container names or ids."`
}

// Run stops each container (if it runs) and starts it again, detached, as
// docker restart does.
func (c *RestartCmd) Run(g *cli.Globals) error {
	return eachContainer(g, c.Containers, func(ctr *lifecycle.Container, env []string) error {
		if ctr.Running() {
			if err := ctr.Stop(syscall.SIGTERM, time.Duration(c.Time)*time.Second); err != nil {
				return err
			}
		}
		if err := ctr.Rewind(); err != nil {
			return err
		}
		return ctr.Detach(self(), []string{"supervise", ctr.ID}, env, os.Stderr)
	})
}

type PauseCmd struct {
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *PauseCmd) Help() string {
	return "Freezes every process of the container (cg-limit freeze: cgroup.freeze or the v1 freezer); ctr-run unpause thaws them."
}

func (c *PauseCmd) Run(g *cli.Globals) error {
	return eachContainer(g, c.Containers, func(ctr *lifecycle.Container, env []string) error { return ctr.Pause(env) })
}

type UnpauseCmd struct {
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *UnpauseCmd) Run(g *cli.Globals) error {
	return eachContainer(g, c.Containers, func(ctr *lifecycle.Container, env []string) error { return ctr.Unpause(env) })
}

func eachContainer(g *cli.Globals, refs []string, do func(*lifecycle.Container, []string) error) error {
	if err := needRoot(); err != nil {
		return err
	}
	env := lifecycle.Env(g.Root, g.State, g.Explain)
	for _, ref := range refs {
		ctr, err := lifecycle.Find(g.State, ref)
		if err != nil {
			return err
		}
		if err := do(ctr, env); err != nil {
			return err
		}
		fmt.Println(ref)
	}
	return nil
}
