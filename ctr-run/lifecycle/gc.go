package lifecycle

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Collected is one container gc removed (or, in a dry run, would remove),
// and why.
type Collected struct {
	ID, Name, Why string
}

// GC removes what crashes left behind:
//
//   - a container whose create was killed: its creator lease
//     (STATE/ID/creator) names a process that no longer runs; whatever
//     stages had made (mount, cgroup, address) is in resources.json and
//     removed the usual way;
//   - a container whose supervisor died after the container ended, or
//     with it, and an --rm container whose removal did not finish.
//
// A container that still runs is never killed, even when its supervisor
// (or the foreground ctr-run) is gone: it may be doing its work. GC lists
// it in kept; `ctr-run rm -f` removes it. Containers that ended normally
// stay, as with docker, until ctr-run rm. With dryRun nothing is removed.
func GC(state string, env []string, stderr io.Writer, dryRun bool) (removed []Collected, kept []*Container, err error) {
	entries, err := os.ReadDir(state)
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, err
	}
	for _, e := range entries {
		dir := filepath.Join(state, e.Name())
		_, errRes := os.Stat(filepath.Join(dir, "resources.json"))
		c, errMeta := load(dir)
		if errMeta != nil && errRes != nil {
			continue // not a container's state (e.g. net-bridge's STATE/net)
		}
		why := ""
		switch {
		case errMeta != nil:
			c = &Container{Meta: Meta{ID: e.Name(), Name: e.Name()}, Dir: dir}
			why = "its create crashed before it wrote meta.json"
		default:
			if pending, held := c.creating(); pending {
				if held {
					continue // being created right now
				}
				why = "its ctr-run was killed while creating it (" + c.readID("creator").String() + ")"
				break
			}
			if c.orphan() {
				kept = append(kept, c)
				continue
			}
			why = c.abandoned()
		}
		if why == "" {
			continue
		}
		if !dryRun {
			if err := c.Remove(env, stderr, false); err != nil {
				return removed, kept, fmt.Errorf("gc %s: %w", c.ID, err)
			}
		}
		removed = append(removed, Collected{ID: c.ID, Name: c.Name, Why: why})
	}
	return removed, kept, nil
}

// abandoned says why a container nobody will finish can go, or "": an
// --rm container whose removal did not finish, or one that ended with (or
// after) its supervisor, which then never recorded its exit.
func (c *Container) abandoned() string {
	if c.Exited() {
		if c.Rm {
			return "it ended with --rm but its removal did not finish"
		}
		return ""
	}
	sup := c.readID("supervisor")
	if sup.PID > 0 && !sup.Alive() && c.PID() == 0 {
		return "its supervisor (" + sup.String() + ") died and it no longer runs"
	}
	return ""
}
