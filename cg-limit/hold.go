package main

// A runtime's one call to cg-limit: --pid and --hold.
//
// An OCI runtime that makes the container's cgroup itself (ns-enter does,
// as runc does, when a spec has linux.resources and no cgroup yet) needs
// three things of cg-limit: make the cgroup, put the container's first
// process in it before that process runs anything of its own, and remove
// the cgroup once the container has ended. As three cg-limit processes that
// is three Go start-ups, most of what a short container costs, so one call
// does all three:
//
//	cg-limit --name NAME --pid PID --hold 3 < config.json
//
// --pid moves PID in (cgroup.procs, in every hierarchy) before the spec is
// printed: the spec on stdout means "made and joined". With --hold, stdout
// is closed then (the runtime reads to its end and goes on) and cg-limit
// stays, asleep on descriptor 3, while the container runs. The line "rm"
// there ends whatever is left in the cgroup and removes it, as cg-limit rm
// -f would; end of file without it (the runtime exited: runc create's
// detached container) leaves the cgroup, which cg-limit rm NAME removes at
// delete. In a shell the first half is
//
//	cg-limit --name NAME --pid $$ < config.json
//
// ns-enter starts cg-limit before the container's process exists, so it
// gives no --pid and joins the cgroup itself; ctr-run --rm holds cg-limit in
// its pipeline (internal/hold) and says rm when the container has ended.

import (
	"errors"
	"fmt"
	"syscall"

	"ctrkit/cg-limit/cgroup"
	"ctrkit/internal/cli"
	"ctrkit/internal/hold"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// join moves --pid into the new cgroup; on failure the cgroup is undone.
func (c *ApplyCmd) join(g *cli.Globals, doc *specs.Spec, cg *cgroup.Cgroup) error {
	if c.PID == 0 {
		return nil
	}
	if err := cg.Add(c.PID); err != nil {
		return errors.Join(fmt.Errorf("--pid %d: %w", c.PID, err), undo(g, doc, cg))
	}
	return nil
}

// hold waits on descriptor --hold for "rm" or its end (internal/hold).
func (c *ApplyCmd) hold(g *cli.Globals, s *Stdio, doc *specs.Spec, cg *cgroup.Cgroup) error {
	rm, err := hold.Wait(s.Stdout, s.Stderr, c.Hold)
	if err != nil || !rm {
		return err // end of file: the runtime left, the cgroup stays for cg-limit rm
	}
	return undo(g, doc, cg)
}

// undo is cg-limit rm -f for the cgroup Apply made: end its processes,
// remove it, forget its record.
func undo(g *cli.Globals, doc *specs.Spec, cg *cgroup.Cgroup) error {
	if err := cg.Kill(syscall.SIGKILL); err != nil {
		return err
	}
	if err := cg.Remove(); err != nil {
		return err
	}
	return spec.Forget(g.State, spec.ID(doc), tool, cg.Path())
}
