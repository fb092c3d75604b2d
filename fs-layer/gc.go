package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"ctrkit/fs-layer/layer"
	"ctrkit/fs-layer/overlay"
	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/lease"
	"ctrkit/internal/sibling"
	"ctrkit/internal/spec"
	"ctrkit/internal/store"
)

type GcCmd struct {
	DryRun bool `help:"Only list what gc would remove or repair."`
}

func (c *GcCmd) Help() string {
	return `Removes what killed unpacks left in ROOT/layers/tmp/ (their leases in
ROOT/leases/ say which fs-layer made them and whether it still runs), the
root filesystems of RUN steps of killed img-builds (ckb-ID), the
unpacked layers no image of the store and no container uses (after
img-pull rm, for instance), and short links in ROOT/layers/l/ that point
nowhere; makes again a missing short link (without it an overlay mount
fails). Prints one line for each, and the bytes freed.

Example:

  fs-layer gc --dry-run
  fs-layer gc`
}

func (c *GcCmd) Run(g *cli.Globals, s *Stdio) error {
	log := g.Log("fs-layer", s.Stderr)
	images, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	ls, err := layer.OpenStore(g.Root, log)
	if err != nil {
		return err
	}
	ids, err := overlay.List(g.Root)
	if err != nil {
		return err
	}
	// The RUN containers of builds that were killed: img-build names each
	// in its lease ("container:ckb-…") before mounting it.
	live, err := lease.Live(filepath.Join(g.Root, "leases"))
	if err != nil {
		return err
	}
	var chains []string
	for _, id := range ids {
		if strings.HasPrefix(id, "ckb-") && !live["container:"+id] {
			if c.DryRun {
				fmt.Fprintf(s.Stdout, "would remove container %s: the img-build that ran it no longer runs\n", id)
				continue
			}
			ctr, err := overlay.Load(g.Root, g.State, id)
			if err == nil {
				err = ctr.Remove(log)
			}
			if err == nil {
				err = undoOthers(g, id)
			}
			if err != nil {
				return fmt.Errorf("gc: container %s: %w", id, err)
			}
			spec.CleanState(g.State, id, "fs-layer")
			fmt.Fprintf(s.Stdout, "removed container %s: the img-build that ran it no longer runs\n", id)
			continue
		}
		ctr, err := overlay.Load(g.Root, g.State, id)
		if err != nil {
			return fmt.Errorf("gc: container %s: %w (no layer was removed: fs-layer rm %s, then gc again)", id, err, id)
		}
		chains = append(chains, ctr.Chain...)
	}
	items, err := ls.GC(images, chains, c.DryRun)
	var freed int64
	for _, it := range items {
		verb := map[string]string{"remove": "removed", "repair": "repaired"}[it.Action]
		if c.DryRun {
			verb = "would " + it.Action
		}
		fmt.Fprintf(s.Stdout, "%s %s: %s\n", verb, it.Path, it.Why)
		freed += it.Bytes
	}
	if c.DryRun {
		fmt.Fprintf(s.Stdout, "would free %s\n", human(freed))
	} else {
		fmt.Fprintf(s.Stdout, "freed %s\n", human(freed))
	}
	return err
}

// undoOthers runs what the other stages recorded for a dead RUN container
// (the cgroup ns-enter made with cg-limit: `cg-limit rm ckb-…`), as ctr-run
// rm does for a container: by running each recorded command.
func undoOthers(g *cli.Globals, id string) error {
	rs, err := spec.StateResources(g.State, id)
	if err != nil {
		return err
	}
	for i := len(rs) - 1; i >= 0; i-- {
		undo := rs[i].Undo
		if rs[i].Stage == "fs-layer" || len(undo) == 0 {
			continue
		}
		cmd := exec.Command(sibling.Path(undo[0]), undo[1:]...)
		cmd.Env = append(os.Environ(), "CTRKIT_STATE="+g.State, "CTRKIT_ROOT="+g.Root)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", explain.Join(undo), err, strings.TrimSpace(string(out)))
		}
	}
	return nil
}
