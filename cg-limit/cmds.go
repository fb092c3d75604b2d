package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"ctrkit/cg-limit/cgroup"
	"ctrkit/internal/cli"
	"ctrkit/internal/signame"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/term"
)

const tool = "cg-limit"

// ApplyCmd is the pipeline stage: … | cg-limit -m 64m | ns-enter.
type ApplyCmd struct {
	Limits      `embed:""`
	DeviceFlags `embed:""`
	Name        string `help:"Name of the cgroup (default: the document's ctrkit.id)." placeholder:"NAME"`
	PID         int    `name:"pid" help:"Also move process PID into the cgroup before printing the spec: one call for a runtime (ns-enter): make and join." placeholder:"PID"`
	Hold        int    `help:"After printing the spec (and closing stdout), stay and read descriptor FD: the line \"rm\" ends what is left in the cgroup and removes it; end of file without it leaves the cgroup (a runtime holding it: ns-enter)." placeholder:"FD"`
}

func (c *ApplyCmd) Help() string {
	return `Reads an OCI runtime spec on stdin (from ns-enter spec, img-pull or fs-layer), creates
the cgroup /ctrkit/NAME with the limits of the flags and of the spec's linux.resources,
records it for removal (cg-limit rm NAME), and writes the spec to stdout with
linux.resources and linux.cgroupsPath filled in. ns-enter then starts the container in it:

  ns-enter spec --rootfs rootfs -- sh | cg-limit -m 64m --cpus 0.5 | ns-enter`
}

func (c *ApplyCmd) Run(g *cli.Globals) error {
	doc, err := spec.FromStdin(os.Stdin)
	if err != nil {
		return err
	}
	if doc == nil {
		return errors.New("no runtime spec on stdin: pipe one in (ns-enter spec … | cg-limit -m 64m | ns-enter), or use cg-limit run/create (cg-limit --help)")
	}
	flags, err := c.Limits.Resources()
	if err != nil {
		return err
	}
	log := g.Log(tool, os.Stderr)
	if doc.Linux == nil {
		doc.Linux = &specs_Linux{}
	}
	res := merge(doc.Linux.Resources, flags)
	if res == nil {
		res = &specs.LinuxResources{}
	}
	if res.Devices, err = c.devices(res.Devices); err != nil {
		return err
	}
	res.Devices = allowNodes(res.Devices, doc.Linux.Devices)
	for _, what := range ignored(res) {
		log.Note("linux.resources.%s is left to the runtime: cg-limit does not apply it", what)
	}
	name := c.Name
	if name == "" {
		name = spec.ID(doc)
	}
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	cg, err := h.Create(log, name, res)
	if err != nil {
		return err
	}
	if err := spec.Record(doc, g.State, spec.Resource{Stage: tool, Kind: "cgroup", Name: cg.Path(), Undo: []string{tool, "rm", name}}); err != nil {
		cg.Remove()
		return err
	}
	if err := c.join(g, doc, cg); err != nil { // hold.go
		return err
	}
	doc.Linux.Resources = res
	doc.Linux.CgroupsPath = cg.Path()
	if err := spec.Write(os.Stdout, doc); err != nil || c.Hold == 0 {
		return err
	}
	return c.hold(g, doc, cg) // hold.go
}

// RunCmd is cg-limit run [LIMITS] -- CMD.
type RunCmd struct {
	Limits      `embed:""`
	DeviceFlags `embed:""`
	Name        string   `help:"Name of the cgroup (default: ck- and random hex)." placeholder:"NAME"`
	Args        []string `arg:"" passthrough:"" help:"Command and arguments."`
}

func (c *RunCmd) Help() string {
	return `Creates /ctrkit/NAME with the limits, starts the command so that its first instruction
already runs inside, waits for it, ends whatever it left in the cgroup and removes the
cgroup. Exits with the command's status (128+N when a signal N ended it: 137 for the
OOM killer's SIGKILL), or 125 when cg-limit itself fails, 126/127 when the command
cannot be run, like docker run.`
}

func (c *RunCmd) Run(g *cli.Globals) error {
	args := c.Args
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return &cli.ExitError{Code: 125, Err: errors.New("run: no command given: cg-limit run -m 64m -- CMD")}
	}
	if _, err := exec.LookPath(args[0]); err != nil {
		code := 127
		if errors.Is(err, os.ErrPermission) {
			code = 126
		}
		return &cli.ExitError{Code: code, Err: fmt.Errorf("run: %w", err)}
	}
	fail := func(err error) error { return &cli.ExitError{Code: 125, Err: err} }
	res, err := c.Limits.Resources()
	if err != nil {
		return fail(err)
	}
	if res.Devices, err = c.devices(nil); err != nil {
		return fail(err)
	}
	name := c.Name
	if name == "" {
		name = "ck-" + spec.NewID()
	}
	log := g.Log(tool, os.Stderr)
	h, err := cgroup.Detect()
	if err != nil {
		return fail(err)
	}
	cg, err := h.Create(log, name, res)
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cg.Start(cmd); err != nil {
		cg.Remove()
		return fail(err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	werr := cmd.Wait()
	close(done)
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		code = ws.ExitStatus()
		if ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	case werr != nil:
		code = 125
	}
	if st, err := cg.Stats(); err == nil && st.Memory.OOMKills > 0 {
		fmt.Fprintf(os.Stderr, "%s: the kernel's OOM killer ended %d process(es) in %s (memory limit %s)\n", tool, st.Memory.OOMKills, cg.Path(), cgroup.FormatSize(st.Memory.Limit))
	}
	// Like a container's end: what the command left behind goes with it.
	if ps, _ := cg.Procs(); len(ps) > 0 {
		log.Note("the command left %d process(es) in %s: killing them", len(ps), cg.Path())
		if err := cg.Kill(syscall.SIGKILL); err != nil {
			return fail(err)
		}
	}
	if err := cg.Remove(); err != nil {
		return fail(err)
	}
	if code != 0 {
		return &cli.ExitError{Code: code}
	}
	return nil
}

// CreateCmd is cg-limit create NAME [LIMITS].
type CreateCmd struct {
	Name        string `arg:"" help:"Name: the cgroup is /ctrkit/NAME in every hierarchy."`
	Limits      `embed:""`
	DeviceFlags `embed:""`
}

func (c *CreateCmd) Help() string {
	return `Makes the directory /ctrkit/NAME in each cgroup hierarchy it needs (one on cgroup v2,
one per controller on v1) and writes the limits into its files; prints the path, which is
what linux.cgroupsPath of a runtime spec holds. Nothing is left behind when a limit fails.`
}

func (c *CreateCmd) Run(g *cli.Globals) error {
	res, err := c.Limits.Resources()
	if err != nil {
		return err
	}
	if res.Devices, err = c.devices(nil); err != nil {
		return err
	}
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	cg, err := h.Create(g.Log(tool, os.Stderr), c.Name, res)
	if err != nil {
		return err
	}
	fmt.Println(cg.Path())
	return nil
}

// UpdateCmd is cg-limit update NAME [LIMITS].
type UpdateCmd struct {
	Name      string `arg:"" help:"The cgroup to change: NAME for /ctrkit/NAME, or an absolute cgroup path."`
	Resources string `help:"Read the new limits as OCI linux.resources JSON from FILE (\"-\": stdin), like runc update --resources; flags add to them." placeholder:"FILE"`
	Limits    `embed:""`
}

func (c *UpdateCmd) Run(g *cli.Globals) error {
	res, err := c.Limits.Resources()
	if err != nil {
		return err
	}
	if c.Resources != "" {
		var base specs.LinuxResources
		if err := spec.ReadPart("--resources", c.Resources, &base); err != nil {
			return err
		}
		res = merge(&base, res)
	}
	cg, err := open(g, c.Name)
	if err != nil {
		return err
	}
	return cg.Update(res)
}

// AddCmd is cg-limit add NAME PID.
type AddCmd struct {
	Name string `arg:"" help:"The cgroup."`
	PID  int    `arg:"" name:"pid" help:"The process to move (with all its threads)."`
}

func (c *AddCmd) Run(g *cli.Globals) error {
	cg, err := open(g, c.Name)
	if err != nil {
		return err
	}
	return cg.Add(c.PID)
}

// StatsCmd is cg-limit stats NAME.
type StatsCmd struct {
	Name     string        `arg:"" help:"The cgroup."`
	Format   string        `help:"Output format: text or json." enum:"text,json" default:"text"`
	Watch    bool          `short:"w" help:"Print again every --interval until interrupted or the cgroup is gone."`
	Interval time.Duration `help:"Time between two --watch readings." default:"1s"`
}

func (c *StatsCmd) Run(g *cli.Globals) error {
	cg, err := open(g, c.Name)
	if err != nil {
		return err
	}
	tty := term.IsTerminal(int(os.Stdout.Fd()))
	for first := true; ; first = false {
		if !first && len(cg.Dirs()) == 0 {
			return nil
		}
		st, err := cg.Stats()
		if err != nil {
			return err
		}
		switch {
		case c.Format == "json" && c.Watch:
			data, _ := json.Marshal(st)
			fmt.Println(string(data))
		case c.Format == "json":
			data, _ := json.MarshalIndent(st, "", "  ")
			fmt.Println(string(data))
		default:
			if c.Watch && tty {
				fmt.Print("\033[H\033[2J")
			} else if !first {
				fmt.Println()
			}
			fmt.Print(st.Format())
		}
		if !c.Watch {
			return nil
		}
		time.Sleep(c.Interval)
	}
}

// FreezeCmd is cg-limit freeze NAME.
type FreezeCmd struct {
	Name string `arg:"" help:"The cgroup."`
}

func (c *FreezeCmd) Help() string {
	return "Writes 1 to cgroup.freeze (v2) or FROZEN to freezer.state (v1) and waits until every process is stopped."
}

func (c *FreezeCmd) Run(g *cli.Globals) error {
	cg, err := open(g, c.Name)
	if err != nil {
		return err
	}
	return cg.Freeze()
}

// ThawCmd is cg-limit thaw NAME.
type ThawCmd struct {
	Name string `arg:"" help:"The cgroup."`
}

func (c *ThawCmd) Run(g *cli.Globals) error {
	cg, err := open(g, c.Name)
	if err != nil {
		return err
	}
	return cg.Thaw()
}

// KillCmd is cg-limit kill NAME [SIGNAL].
type KillCmd struct {
	Name   string `arg:"" help:"The cgroup."`
	Signal string `arg:"" optional:"" default:"KILL" help:"Signal, by name or number (default KILL)."`
}

func (c *KillCmd) Help() string {
	return `SIGKILL on cgroup v2 is one write, 1 into cgroup.kill (Linux 5.14). Otherwise every
process in cgroup.procs is signalled; on v2 the cgroup is frozen around that, so no process
can fork a child that escapes, and on v1 SIGKILL goes round again until the cgroup is empty
(v1's freezer racing a kill has locked kernels up).`
}

func (c *KillCmd) Run(g *cli.Globals) error {
	sig, err := signame.Parse(c.Signal)
	if err != nil {
		return err
	}
	cg, err := open(g, c.Name)
	if err != nil {
		return err
	}
	return cg.Kill(sig)
}

// LsCmd is cg-limit ls.
type LsCmd struct{}

func (c *LsCmd) Run(g *cli.Globals) error {
	h, err := cgroup.Detect()
	if err != nil {
		return err
	}
	for _, n := range h.List() {
		fmt.Println(n)
	}
	return nil
}

// RmCmd is cg-limit rm NAME….
type RmCmd struct {
	Names []string `arg:"" name:"name" help:"The cgroups to remove."`
	Force bool     `short:"f" help:"Kill their processes first."`
}

func (c *RmCmd) Help() string {
	return `Removes the directory /ctrkit/NAME from every hierarchy (rmdir), then /ctrkit where it is
left empty, and forgets the cgroup in STATE/NAME/resources.json, where cg-limit recorded it
when a document named the container NAME.`
}

func (c *RmCmd) Run(g *cli.Globals) error {
	var errs []error
	for _, n := range c.Names {
		cg, err := open(g, n)
		if err == nil && c.Force {
			err = cg.Kill(syscall.SIGKILL)
		}
		if err == nil {
			err = cg.Remove()
		}
		if err == nil {
			err = spec.Forget(g.State, n, tool, cgroup.Path(n))
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func open(g *cli.Globals, name string) (*cgroup.Cgroup, error) {
	h, err := cgroup.Detect()
	if err != nil {
		return nil, err
	}
	return h.Open(g.Log(tool, os.Stderr), name)
}
