package main

// runc's command line, so containerd, dockerd and the OCI runtime-tools
// validation suite can drive ns-enter as their OCI runtime. Reached as
// `ns-enter oci ARGS…`, or through a link named ctrkit-runc (make build
// makes bin/ctrkit-runc), which is what `ctr run --runc-binary` and
// `dockerd --add-runtime` are given:
//
//	ctrkit-runc --root /run/containerd/runc/default --log …/log.json --log-format json \
//	    create --bundle B --pid-file B/init.pid [--console-socket S] ID
//	ctrkit-runc … start ID;  … kill ID 15;  … delete ID
//
// Careful with --root: here, as in runc, it is the directory of the
// runtime's container state; everywhere else in ctrkit --root is the image
// store (CTRKIT_ROOT).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/signame"
	"ctrkit/internal/spec"
	"ctrkit/ns-enter/container"
	"ctrkit/ns-enter/runtime"

	"github.com/alecthomas/kong"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
)

// ociName is the name ns-enter answers to as an OCI runtime.
const ociName = "ctrkit-runc"

// OCI is runc's command line.
type OCI struct {
	Root          string           `help:"Directory of the runtime's container state (runc's --root; not ctrkit's image store)." default:"/run/ctrkit/runc" type:"path" placeholder:"DIR"`
	LogFile       string           `name:"log" help:"Also write errors to FILE, as containerd's shim reads them." placeholder:"FILE"`
	LogFormat     string           `help:"text or json." enum:"text,json" default:"text"`
	Debug         bool             `help:"Print each step, as --explain does."`
	SystemdCgroup bool             `help:"Refused: ns-enter speaks cgroupfs paths, not systemd's slices."`
	Rootless      string           `help:"Accepted for runc's sake; ns-enter runs as root." default:"auto" placeholder:"BOOL"`
	Criu          string           `help:"Accepted for runc's sake; checkpointing is not supported." hidden:""`
	Explain       bool             `help:"Print each step (kernel call and shell equivalent) on stderr." env:"CTRKIT_EXPLAIN"`
	Version       kong.VersionFlag `short:"v" help:"Print the version and the runtime spec version."`

	Create   OCICreateCmd   `cmd:"" help:"Create a container: set it up, its process waiting before execve until start."`
	Start    OCIStartCmd    `cmd:"" help:"Let a created container's process execve."`
	State    OCIStateCmd    `cmd:"" help:"Print a container's state as JSON."`
	Kill     OCIKillCmd     `cmd:"" help:"Send a signal to a container's process (or, with --all, to every process in its cgroup)."`
	Delete   OCIDeleteCmd   `cmd:"" help:"Remove a stopped (or, with --force, any) container and everything made for it."`
	Run      OCIRunCmd      `cmd:"" help:"Create and start a container, and wait for it."`
	Exec     OCIExecCmd     `cmd:"" help:"Run a new process in a running container."`
	Ps       OCIPsCmd       `cmd:"" help:"List the processes in a container's cgroup."`
	Pause    OCIPauseCmd    `cmd:"" help:"Freeze every process of a container (cg-limit freeze)."`
	Resume   OCIResumeCmd   `cmd:"" help:"Thaw a paused container (cg-limit thaw)."`
	Update   OCIUpdateCmd   `cmd:"" help:"Change a running container's limits (cg-limit update)."`
	List     OCIListCmd     `cmd:"" help:"List the containers under --root."`
	Features OCIFeaturesCmd `cmd:"" help:"Print what this runtime supports, as JSON (runtime-spec features)."`
	Spec     OCISpecCmd     `cmd:"" help:"Write a default config.json into the bundle."`
}

func (o *OCI) log() *explain.Log { return explain.New(ociName, os.Stderr, o.Explain || o.Debug) }

// ociMain runs runc's command line with args and exits.
func ociMain(args []string) {
	var o OCI
	parser := kong.Must(&o, kong.Name(ociName),
		kong.Description("ns-enter as an OCI runtime: runc's command line, for containerd, dockerd and the runtime-tools validation suite."),
		kong.ShortUsageOnError(),
		kong.Vars{"version": ociName + " version ns-enter (ctrkit)\nspec: " + specs.Version})
	ctx, err := parser.Parse(args)
	if err == nil {
		if o.SystemdCgroup {
			err = &cli.ExitError{Code: 1, Err: errors.New("--systemd-cgroup: ns-enter speaks cgroupfs paths (/a/b), not systemd's slice:prefix:name; configure the engine with cgroupfs")}
		} else {
			err = ctx.Run(&o)
		}
	}
	if err != nil {
		o.writeLog(err)
	}
	if ctx == nil {
		parser.FatalIfErrorf(err)
	}
	cli.Exit(ctx, err)
}

// writeLog appends err to --log, in logrus's JSON form for containerd,
// which quotes the last line when the runtime fails.
func (o *OCI) writeLog(err error) {
	var e *cli.ExitError
	if o.LogFile == "" || errors.As(err, &e) && e.Err == nil {
		return
	}
	f, ferr := os.OpenFile(o.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if ferr != nil {
		return
	}
	defer f.Close()
	if o.LogFormat == "json" {
		line, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().Format(time.RFC3339Nano)})
		f.Write(append(line, '\n'))
		return
	}
	fmt.Fprintf(f, "time=%q level=error msg=%q\n", time.Now().Format(time.RFC3339Nano), err.Error())
}

type OCICreateCmd struct {
	Bundle        string `short:"b" help:"The bundle: config.json and the root filesystem." default:"." type:"path" placeholder:"DIR"`
	PIDFile       string `name:"pid-file" help:"Write the container's process id to FILE." placeholder:"FILE"`
	ConsoleSocket string `help:"Send the terminal's master end to the unix socket at PATH." placeholder:"PATH"`
	NoPivot       bool   `help:"Switch the root with mount --move and chroot, not pivot_root (for a host running from its initramfs; weaker: see docs/09-oci-runtime.md)."`
	NoNewKeyring  bool   `help:"Keep the caller's session keyring."`
	PreserveFDs   int    `name:"preserve-fds" help:"Pass descriptors 3…3+N-1 to the container." placeholder:"N"`
	ID            string `arg:"" help:"The container's id."`
}

func (c *OCICreateCmd) Help() string {
	return `The container's process is made in its namespaces and cgroup, its root
filesystem mounted and switched to, and it waits, blocked opening ROOT/ID/exec.fifo
for writing, until ns-enter start opens it for reading. create returns then.`
}

func (c *OCICreateCmd) Run(o *OCI) error {
	return runtime.Create(o.Root, c.ID, c.options(o))
}

func (c *OCICreateCmd) options(o *OCI) runtime.CreateOptions {
	return runtime.CreateOptions{Bundle: c.Bundle, PIDFile: c.PIDFile, ConsoleSocket: c.ConsoleSocket,
		NoPivot: c.NoPivot, NoNewKeyring: c.NoNewKeyring, PreserveFDs: c.PreserveFDs + container.ListenFDs(),
		Log: o.log(), Explain: o.Explain || o.Debug}
}

type OCIRunCmd struct {
	OCICreateCmd
	Detach bool `short:"d" help:"Return once the container runs."`
}

func (c *OCIRunCmd) Run(o *OCI) error {
	if c.Detach {
		if err := runtime.Create(o.Root, c.ID, c.options(o)); err != nil {
			return err
		}
		return runtime.Start(o.Root, c.ID, o.log())
	}
	status, err := runtime.Run(o.Root, c.ID, c.options(o))
	if err != nil && status >= 125 {
		status = 1 // runc's own failures exit 1
	}
	if err != nil || status != 0 {
		return &cli.ExitError{Code: status, Err: err}
	}
	return nil
}

type OCIStartCmd struct {
	ID string `arg:"" help:"The container's id."`
}

func (c *OCIStartCmd) Run(o *OCI) error { return runtime.Start(o.Root, c.ID, o.log()) }

type OCIStateCmd struct {
	ID string `arg:"" help:"The container's id."`
}

// ociState is runc's state document: the runtime spec's, plus when it was
// created and the root filesystem.
type ociState struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

func stateOf(st *runtime.State) ociState {
	return ociState{State: st.OCIState(st.Status(runtime.Frozen)), Rootfs: st.Rootfs, Created: st.Created, Owner: "root"}
}

func (c *OCIStateCmd) Run(o *OCI) error {
	st, err := runtime.Load(o.Root, c.ID)
	if err != nil {
		return err
	}
	return printJSON(stateOf(st))
}

type OCIKillCmd struct {
	All    bool   `short:"a" help:"Signal every process in the container's cgroup."`
	ID     string `arg:"" help:"The container's id."`
	Signal string `arg:"" optional:"" default:"SIGTERM" help:"By name or number (default SIGTERM)."`
}

func (c *OCIKillCmd) Run(o *OCI) error {
	sig, err := signame.Parse(c.Signal)
	if err != nil {
		return err
	}
	return runtime.Kill(o.Root, c.ID, sig, c.All)
}

type OCIDeleteCmd struct {
	Force bool   `short:"f" help:"Kill the container's processes first."`
	ID    string `arg:"" help:"The container's id."`
}

func (c *OCIDeleteCmd) Run(o *OCI) error {
	if _, err := runtime.Load(o.Root, c.ID); err != nil && c.Force {
		return nil // runc delete --force of what is gone already succeeds
	}
	return runtime.Delete(o.Root, c.ID, c.Force, o.log())
}

type OCIExecCmd struct {
	Process       string   `short:"p" help:"The process to run, as a runtime spec's process JSON (\"-\": stdin)." placeholder:"FILE"`
	TTY           bool     `short:"t" help:"Give the process a terminal."`
	ConsoleSocket string   `help:"Send the terminal's master end to the unix socket at PATH." placeholder:"PATH"`
	Detach        bool     `short:"d" help:"Return once the process runs."`
	PIDFile       string   `name:"pid-file" help:"Write the process's id to FILE." placeholder:"FILE"`
	Cwd           string   `help:"Working directory." placeholder:"DIR"`
	Env           []string `short:"e" help:"Add an environment variable." placeholder:"KEY=VALUE"`
	User          string   `short:"u" help:"UID[:GID]." placeholder:"UID[:GID]"`
	Cap           []string `short:"c" help:"Add a capability." placeholder:"CAP"`
	NoNewPrivs    bool     `help:"Set no_new_privs."`
	PreserveFDs   int      `name:"preserve-fds" help:"Pass descriptors 3…3+N-1 to the process." placeholder:"N"`
	ID            string   `arg:"" help:"The container's id."`
	Args          []string `arg:"" optional:"" passthrough:"" help:"Command and arguments (without --process)."`
}

func (c *OCIExecCmd) Run(o *OCI) error {
	p, err := c.process(o)
	if err != nil {
		return err
	}
	status, err := runtime.Exec(o.Root, c.ID, runtime.ExecOptions{Process: p, Detach: c.Detach, PIDFile: c.PIDFile,
		ConsoleSocket: c.ConsoleSocket, PreserveFDs: c.PreserveFDs, Log: o.log(), Explain: o.Explain || o.Debug})
	if err != nil || status != 0 {
		return &cli.ExitError{Code: status, Err: err}
	}
	return nil
}

// process is the process to exec: --process, or the container's own with
// the flags applied (runtime.ExecProcess).
func (c *OCIExecCmd) process(o *OCI) (*specs.Process, error) {
	if c.Process != "" {
		var p specs.Process
		if err := spec.ReadPart("--process", c.Process, &p); err != nil {
			return nil, err
		}
		return &p, nil
	}
	f := runtime.ExecFlags{Args: c.Args, TTY: c.TTY, Cwd: c.Cwd, Env: c.Env, Caps: c.Cap, NoNewPrivs: c.NoNewPrivs}
	if len(f.Args) > 0 && f.Args[0] == "--" {
		f.Args = f.Args[1:]
	}
	if c.User != "" {
		u, err := parseRunAs(c.User)
		if err != nil {
			return nil, err
		}
		f.User = &u
	}
	return runtime.ExecProcess(o.Root, c.ID, f)
}

type OCIPsCmd struct {
	Format string `short:"f" enum:"table,json" default:"table" help:"table or json."`
	ID     string `arg:"" help:"The container's id."`
}

func (c *OCIPsCmd) Run(o *OCI) error {
	st, err := runtime.Load(o.Root, c.ID)
	if err != nil {
		return err
	}
	pids, err := st.Pids()
	if err != nil {
		return err
	}
	if c.Format == "json" {
		if pids == nil {
			pids = []int{}
		}
		return printJSON(pids)
	}
	fmt.Println("PID\tCMD")
	for _, pid := range pids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		fmt.Printf("%d\t%s\n", pid, strings.TrimSpace(string(comm)))
	}
	return nil
}

type OCIPauseCmd struct {
	ID string `arg:"" help:"The container's id."`
}

func (c *OCIPauseCmd) Run(o *OCI) error { return runtime.Pause(o.Root, c.ID, o.log()) }

type OCIResumeCmd struct {
	ID string `arg:"" help:"The container's id."`
}

func (c *OCIResumeCmd) Run(o *OCI) error { return runtime.Resume(o.Root, c.ID, o.log()) }

type OCIUpdateCmd struct {
	Resources string `short:"r" help:"The new limits as OCI linux.resources JSON (\"-\": stdin)." placeholder:"FILE"`
	ID        string `arg:"" help:"The container's id."`
}

func (c *OCIUpdateCmd) Run(o *OCI) error {
	if c.Resources == "" {
		return errors.New("update: give --resources FILE (or - for stdin) with OCI linux.resources JSON")
	}
	var r specs.LinuxResources
	if err := spec.ReadPart("--resources", c.Resources, &r); err != nil {
		return err
	}
	return runtime.Update(o.Root, c.ID, &r, o.log())
}

type OCIListCmd struct {
	Format string `short:"f" enum:"table,json" default:"table" help:"table or json."`
	Quiet  bool   `short:"q" help:"Only the ids."`
}

func (c *OCIListCmd) Run(o *OCI) error {
	sts, err := runtime.List(o.Root)
	if err != nil {
		return err
	}
	if c.Format == "json" {
		out := []ociState{}
		for _, st := range sts {
			out = append(out, stateOf(st))
		}
		return printJSON(out)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	if !c.Quiet {
		fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
	}
	for _, st := range sts {
		s := stateOf(st)
		if c.Quiet {
			fmt.Fprintln(w, s.ID)
			continue
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
	}
	return w.Flush()
}

type OCIFeaturesCmd struct{}

func (c *OCIFeaturesCmd) Run(o *OCI) error {
	yes := true
	f := features.Features{
		OCIVersionMin: "1.0.0", OCIVersionMax: specs.Version,
		Hooks:        []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		MountOptions: container.MountOptions(),
		Linux: &features.Linux{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"},
			Capabilities: container.CapNames(),
			Cgroup:       &features.Cgroup{V1: &yes, V2: &yes, Systemd: new(bool)},
			Seccomp:      &features.Seccomp{Enabled: &yes},
		},
		Annotations: map[string]string{"io.github.ctrkit.runtime": "ns-enter"},
	}
	return printJSON(f)
}

type OCISpecCmd struct {
	Bundle string `short:"b" help:"Where to write config.json." default:"." type:"path" placeholder:"DIR"`
}

func (c *OCISpecCmd) Help() string {
	return "ctrkit's default spec, like runc spec's: rootfs/ in the bundle, sh with a terminal, new pid, network, ipc, uts and mount namespaces, docker's capabilities, seccomp profile and device allowlist."
}

func (c *OCISpecCmd) Run(o *OCI) error {
	path := filepath.Join(c.Bundle, "config.json")
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s exists already: remove it first", path)
	}
	s := spec.Default("rootfs", []string{"sh"})
	s.Process.Terminal = true
	s.Hostname = "ctrkit"
	for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace, specs.UTSNamespace} {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return spec.Write(f, s)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ociArgs tells whether ns-enter was started as an OCI runtime, and with
// which arguments: through the ctrkit-runc link, or as ns-enter oci.
func ociArgs(argv []string) ([]string, bool) {
	if filepath.Base(argv[0]) == ociName {
		return argv[1:], true
	}
	if len(argv) > 1 && argv[1] == "oci" {
		return argv[2:], true
	}
	return nil, false
}
