package main

// The verbs that manage containers once they exist: ps, exec, logs, stop,
// kill, rm, inspect, stats, gc, restart, pause and unpause. Each is a thin
// call into ctr-run/lifecycle.

import (
	"encoding/json"
	"fmt"
	"syscall"
	"text/tabwriter"
	"time"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/signame"
	"ctrkit/internal/spec"
	"ctrkit/internal/store"
)

type PsCmd struct {
	All bool `short:"a" help:"Also list containers that are not running."`
}

func (c *PsCmd) Run(g *cli.Globals, s *Stdio) error {
	cs, err := lifecycle.List(g.State)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(s.Stdout, 0, 4, 2, ' ', 0)
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

func (c *ExecCmd) Run(g *cli.Globals, s *Stdio) error {
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
	Follow     bool   `short:"f" help:"Keep printing until the container ends."`
	Timestamps bool   `short:"t" help:"Start each line with the time it was written (RFC 3339, nanoseconds), as docker logs -t."`
	Container  string `arg:"" help:"Container name or id."`
}

// Run prints the container's stdout here and its stderr on our stderr, as
// docker logs does.
func (c *LogsCmd) Run(g *cli.Globals, s *Stdio) error {
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return err
	}
	return ctr.ReadLogs(c.Follow, nil, func(stream string, t time.Time, line []byte) error {
		w := s.Stdout
		if stream == "stderr" {
			w = s.Stderr
		}
		if c.Timestamps {
			fmt.Fprint(w, t.Format(time.RFC3339Nano)+" ")
		}
		_, err := w.Write(line)
		return err
	})
}

type StopCmd struct {
	Time       int      `short:"t" default:"10" help:"Seconds to wait after SIGTERM before SIGKILL."`
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *StopCmd) Run(g *cli.Globals, s *Stdio) error {
	for _, ref := range c.Containers {
		ctr, err := lifecycle.Find(g.State, ref)
		if err != nil {
			return err
		}
		if err := ctr.Stop(syscall.SIGTERM, time.Duration(c.Time)*time.Second); err != nil {
			return err
		}
		fmt.Fprintln(s.Stdout, ref)
	}
	return nil
}

type KillCmd struct {
	Signal     string   `short:"s" default:"KILL" help:"Signal to send, by name or number."`
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *KillCmd) Run(g *cli.Globals, s *Stdio) error {
	sig, err := signame.Parse(c.Signal)
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
		fmt.Fprintln(s.Stdout, ref)
	}
	return nil
}

type RmCmd struct {
	Force      bool     `short:"f" help:"Kill a running container first."`
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *RmCmd) Run(g *cli.Globals, s *Stdio) error {
	env := lifecycle.Env(g.Root, g.State, g.Explain)
	for _, ref := range c.Containers {
		ctr, err := lifecycle.Find(g.State, ref)
		if err != nil {
			return err
		}
		if err := ctr.Remove(env, s.Stderr, c.Force); err != nil {
			return err
		}
		fmt.Fprintln(s.Stdout, ref)
	}
	return nil
}

type InspectCmd struct {
	Container string `arg:"" help:"Container name or id."`
}

func (c *InspectCmd) Run(g *cli.Globals, s *Stdio) error {
	ctr, err := lifecycle.Find(g.State, c.Container)
	if err != nil {
		return err
	}
	sp, _ := ctr.Spec()
	rs, _ := spec.StateResources(g.State, ctr.ID)
	out := map[string]any{
		"meta": ctr.Meta, "status": ctr.Status(), "pid": ctr.PID(), "stateDir": ctr.Dir,
		"spec": sp, "resources": rs, "restartCount": ctr.Restarts(),
	}
	if id := ctr.Process(); id.PID != 0 {
		out["process"] = id // PID and start time: the identity signals check
	}
	if ctr.Exited() {
		out["exitCode"] = ctr.ExitCode()
	}
	enc := json.NewEncoder(s.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type StatsCmd struct {
	Container string `arg:"" help:"Container name or id."`
}

func (c *StatsCmd) Run(g *cli.Globals, s *Stdio) error {
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

func (c *GcCmd) Run(g *cli.Globals, s *Stdio) error {
	if err := needRoot(); err != nil {
		return err
	}
	removed, kept, err := lifecycle.GC(g.State, lifecycle.Env(g.Root, g.State, g.Explain), s.Stderr, c.DryRun)
	verb := "removed"
	if c.DryRun {
		verb = "would remove"
	}
	for _, r := range removed {
		fmt.Fprintln(s.Stdout, r.ID)
		fmt.Fprintf(s.Stderr, "ctr-run gc: %s %s (%s): %s\n", verb, r.ID, r.Name, r.Why)
	}
	for _, k := range kept {
		fmt.Fprintf(s.Stderr, "ctr-run gc: kept %s (%s): it still runs (pid %d) but its supervisor is gone; ctr-run rm -f %s removes it\n", k.ID, k.Name, k.PID(), k.Name)
	}
	return err
}

type RestartCmd struct {
	Time       int      `short:"t" default:"10" help:"Seconds to wait after SIGTERM before SIGKILL."`
	Containers []string `arg:"" help:"Container names or ids."`
}

// Run stops each container (if it runs) and starts it again, detached, as
// docker restart does.
func (c *RestartCmd) Run(g *cli.Globals, s *Stdio) error {
	return eachContainer(g, s, c.Containers, func(ctr *lifecycle.Container, env []string) error {
		if ctr.Running() {
			if err := ctr.Stop(syscall.SIGTERM, time.Duration(c.Time)*time.Second); err != nil {
				return err
			}
		}
		if err := ctr.Rewind(); err != nil {
			return err
		}
		return ctr.Detach(self(), []string{"supervise", ctr.ID}, env, s.Stderr)
	})
}

type PauseCmd struct {
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *PauseCmd) Help() string {
	return "Freezes every process of the container (cg-limit freeze: cgroup.freeze or the v1 freezer); ctr-run unpause thaws them."
}

func (c *PauseCmd) Run(g *cli.Globals, s *Stdio) error {
	return eachContainer(g, s, c.Containers, func(ctr *lifecycle.Container, env []string) error { return ctr.Pause(env) })
}

type UnpauseCmd struct {
	Containers []string `arg:"" help:"Container names or ids."`
}

func (c *UnpauseCmd) Run(g *cli.Globals, s *Stdio) error {
	return eachContainer(g, s, c.Containers, func(ctr *lifecycle.Container, env []string) error { return ctr.Unpause(env) })
}

func eachContainer(g *cli.Globals, s *Stdio, refs []string, do func(*lifecycle.Container, []string) error) error {
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
		fmt.Fprintln(s.Stdout, ref)
	}
	return nil
}
