package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"ctrkit/cg-limit/cgroup"
	"ctrkit/internal/cli"
	"ctrkit/internal/spec"
)

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

func (c *RunCmd) Run(g *cli.Globals, s *Stdio) error {
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
	log := g.Log(tool, s.Stderr)
	h, err := cgroup.Detect()
	if err != nil {
		return fail(err)
	}
	cg, err := h.Create(log, name, res)
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
	code, err := cg.Run(cmd)
	if err != nil {
		cg.Remove()
		return fail(err)
	}
	if st, err := cg.Stats(); err == nil && st.Memory.OOMKills > 0 {
		fmt.Fprintf(s.Stderr, "%s: the kernel's OOM killer ended %d process(es) in %s (memory limit %s)\n", tool, st.Memory.OOMKills, cg.Path(), cgroup.FormatSize(st.Memory.Limit))
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
