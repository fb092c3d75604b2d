package cgroup

// Making a cgroup: its directory in each hierarchy, the controllers its
// parents must hand down (cgroup.subtree_control), and its first limits.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ctrkit/internal/explain"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Free says whether NAME is free to Create: an error if a cgroup of that
// name exists in any hierarchy.
func (h *Host) Free(name string) error {
	c := &Cgroup{Name: name, host: h}
	if ds := c.Dirs(); len(ds) > 0 {
		return fmt.Errorf("cgroup %s exists already (%s): remove it with cg-limit rm %s, or choose another name", c.Path(), ds[0], name)
	}
	return nil
}

// Create makes the cgroup NAME with the limits r in every hierarchy it
// needs, or nothing at all: on any error, what it made is removed again.
func (h *Host) Create(log *explain.Log, name string, r *specs.LinuxResources) (*Cgroup, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	if h.Mode() == ModeNone {
		return nil, errors.New("no cgroup file system is mounted: mount -t cgroup2 none /sys/fs/cgroup")
	}
	settings, err := h.Settings(r)
	if err != nil {
		return nil, err
	}
	if err := h.Free(name); err != nil {
		return nil, err
	}
	c := &Cgroup{Name: name, host: h, log: log}
	ctrls := append([]string(nil), baseControllers...)
	for _, s := range settings {
		ctrls = append(ctrls, s.Controller)
	}
	var made []string // directories to remove if anything fails
	undo := func() {
		for i := len(made) - 1; i >= 0; i-- {
			c.rmdir(made[i])
		}
	}
	noted := map[string]bool{}
	for _, s := range settings {
		if !noted[s.Flag+s.File] { // one line for the many device rules
			noted[s.Flag+s.File] = true
			log.Note("%s → %s (cgroup %s)", s.Flag, s.File, map[bool]string{true: "v2", false: "v1"}[s.V2])
		}
	}
	for _, m := range h.hierarchies(ctrls) {
		dirs, err := c.makeIn(m, ctrls)
		made = append(made, dirs...)
		if err != nil {
			undo()
			return nil, err
		}
	}
	if err := c.apply(settings); err != nil {
		undo()
		return nil, err
	}
	return c, nil
}

// makeIn makes c's directory in the hierarchy mounted at m, with the
// ancestors it lacks, and returns the directories it made. Other cg-limit
// processes make and remove cgroups beside it: an ancestor that appears
// between the look and the mkdir is theirs, and when one removes /ctrkit,
// found empty, before c's directory is in it, it is made again.
func (c *Cgroup) makeIn(m string, ctrls []string) (made []string, err error) {
	for try := 1; ; try++ {
		for _, a := range c.ancestors() {
			parent := filepath.Join(m, a)
			if _, err := os.Stat(parent); errors.Is(err, os.ErrNotExist) {
				switch err := c.mkdir(parent); {
				case err == nil:
					made = append(made, parent)
				case !errors.Is(err, os.ErrExist):
					return made, err
				}
			}
			// Only what is empty is filled in: also a parent another
			// cg-limit has just made and not yet given its CPUs.
			if err := c.inheritCpuset(m, parent); err != nil {
				return made, err
			}
		}
		if m == c.host.Unified {
			if err := c.enable(m, ctrls); err != nil {
				return made, err
			}
		}
		d := filepath.Join(m, c.Path())
		err := c.mkdir(d)
		if errors.Is(err, os.ErrNotExist) && try < 3 {
			continue
		}
		if err != nil {
			return made, err
		}
		return append(made, d), c.inheritCpuset(m, d)
	}
}

// inheritCpuset copies cpuset.cpus and cpuset.mems from the parent into a
// new v1 cpuset cgroup. They start empty there, and a cgroup with no CPUs
// or no memory nodes refuses every process (ENOSPC). v2 inherits them.
func (c *Cgroup) inheritCpuset(mnt, dir string) error {
	if c.host.V1["cpuset"] != mnt {
		return nil
	}
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		cur, _ := os.ReadFile(filepath.Join(dir, f))
		if strings.TrimSpace(string(cur)) != "" {
			continue
		}
		v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Join(filepath.Dir(dir), f), err)
		}
		if err := c.write(filepath.Join(dir, f), strings.TrimSpace(string(v))); err != nil {
			return err
		}
	}
	return nil
}

// enable turns on, in cgroup.subtree_control of every ancestor, the v2
// controllers the cgroup uses. A v2 controller works in a cgroup only when
// its parent enabled it for its children; and by the "no internal
// processes" rule, a cgroup that enables controllers for its children may
// hold no processes itself (the root excepted), which is why ctrkit keeps
// /ctrkit empty and puts processes only in /ctrkit/NAME.
func (c *Cgroup) enable(mnt string, ctrls []string) error {
	var want []string
	for _, ctl := range ctrls {
		if c.host.V2[ctl] {
			want = append(want, ctl)
		}
	}
	dirs := []string{mnt}
	for _, a := range c.ancestors() {
		dirs = append(dirs, filepath.Join(mnt, a))
	}
	for _, d := range dirs {
		f := filepath.Join(d, "cgroup.subtree_control")
		cur, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", f, err)
		}
		have := map[string]bool{}
		for _, x := range strings.Fields(string(cur)) {
			have[x] = true
		}
		var add []string
		for _, ctl := range want {
			if !have[ctl] {
				add = append(add, "+"+ctl)
			}
		}
		if len(add) == 0 {
			continue
		}
		if err := c.write(f, strings.Join(add, " ")); err != nil {
			if errors.Is(err, unix.EBUSY) {
				return fmt.Errorf("%w (cgroup v2's no-internal-processes rule: %s holds processes, so it may not hand controllers to children)", err, d)
			}
			return err
		}
	}
	return nil
}
