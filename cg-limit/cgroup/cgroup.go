package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"ctrkit/internal/explain"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Cgroup is one ctrkit cgroup, /ctrkit/NAME, in every hierarchy it uses.
// NAME may also be an absolute cgroup path, /a/b/c, as an OCI runtime is
// handed one in linux.cgroupsPath (containerd's /NAMESPACE/ID, docker's
// /docker/ID): cg-limit then makes, limits and removes exactly that cgroup.
type Cgroup struct {
	Name string
	host *Host
	log  *explain.Log
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// CheckName refuses names that are not one plain path element, or an
// absolute path of such elements.
func CheckName(name string) error {
	if rest, abs := strings.CutPrefix(name, "/"); abs {
		for _, el := range strings.Split(rest, "/") {
			if !nameRE.MatchString(el) {
				return fmt.Errorf("invalid cgroup path %q: each element is letters, digits, '_', '.' and '-' (at most 64), like /ctrkit/web", name)
			}
		}
		return nil
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid cgroup name %q: use letters, digits, '_', '.' and '-' (at most 64), like web or ck-1, or an absolute path like /ctrkit/web", name)
	}
	return nil
}

// Path is the cgroup's path inside each hierarchy, the OCI spec's
// linux.cgroupsPath: "/ctrkit/NAME", or NAME itself when it is a path.
func Path(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return Parent + "/" + name
}

// ancestors are the cgroups above c's own, outermost first: /ctrkit for
// /ctrkit/NAME, /a and /a/b for /a/b/c.
func (c *Cgroup) ancestors() []string {
	var as []string
	for d := filepath.Dir(c.Path()); d != "/"; d = filepath.Dir(d) {
		as = append([]string{d}, as...)
	}
	return as
}

// Path is c's path inside each hierarchy.
func (c *Cgroup) Path() string { return Path(c.Name) }

// Dirs lists c's directories that exist, one per hierarchy.
func (c *Cgroup) Dirs() []string {
	var ds []string
	for _, m := range c.host.Mounts() {
		d := filepath.Join(m, c.Path())
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			ds = append(ds, d)
		}
	}
	return ds
}

// dir is c's directory in the hierarchy serving controller ctrl, "" if
// that controller is not mounted.
func (c *Cgroup) dir(ctrl string) (string, bool) {
	m, v2, ok := c.host.Where(ctrl)
	if !ok {
		return "", false
	}
	return filepath.Join(m, c.Path()), v2
}

// Open returns the existing cgroup NAME; it fails when NAME exists in no
// hierarchy.
func (h *Host) Open(log *explain.Log, name string) (*Cgroup, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	c := &Cgroup{Name: name, host: h, log: log}
	if len(c.Dirs()) == 0 {
		return nil, fmt.Errorf("no cgroup %s: make it with cg-limit create %s (cg-limit ls lists them)", c.Path(), name)
	}
	return c, nil
}

// List names the cgroups under /ctrkit, in any hierarchy.
func (h *Host) List() []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range h.Mounts() {
		es, _ := os.ReadDir(filepath.Join(m, Parent))
		for _, e := range es {
			if e.IsDir() && !seen[e.Name()] {
				seen[e.Name()] = true
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	return names
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
	c := &Cgroup{Name: name, host: h, log: log}
	if ds := c.Dirs(); len(ds) > 0 {
		return nil, fmt.Errorf("cgroup %s exists already (%s): remove it with cg-limit rm %s, or choose another name", c.Path(), ds[0], name)
	}
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
		for _, a := range c.ancestors() {
			parent := filepath.Join(m, a)
			if _, err := os.Stat(parent); !errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err := c.mkdir(parent); err != nil {
				undo()
				return nil, err
			}
			made = append(made, parent)
			if err := c.inheritCpuset(m, parent); err != nil {
				undo()
				return nil, err
			}
		}
		if m == h.Unified {
			if err := c.enable(m, ctrls); err != nil {
				undo()
				return nil, err
			}
		}
		d := filepath.Join(m, c.Path())
		if err := c.mkdir(d); err != nil {
			undo()
			return nil, err
		}
		made = append(made, d)
		if err := c.inheritCpuset(m, d); err != nil {
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

// Update changes the limits of a cgroup that exists, while its processes run.
func (c *Cgroup) Update(r *specs.LinuxResources) error {
	settings, err := c.host.Settings(r)
	if err != nil {
		return err
	}
	for _, s := range settings {
		if d, _ := c.dir(s.Controller); d != "" {
			if _, err := os.Stat(d); err != nil {
				return fmt.Errorf("%s: cgroup %s was made without the %s controller: make a new one with the limit", s.Flag, c.Path(), s.Controller)
			}
		}
	}
	return c.apply(settings)
}

// apply writes the settings, in order.
func (c *Cgroup) apply(settings []Setting) error {
	settings = c.memswOrder(settings)
	for _, s := range settings {
		d, _ := c.dir(s.Controller)
		if s.Devices != nil {
			if err := c.attachDevices(d, s.Devices); err != nil {
				return fmt.Errorf("%s: %w", s.Flag, err)
			}
			continue
		}
		if s.Ignored {
			c.log.Note("%s: cgroup v2 has no %s; ignored, as runc does", s.Flag, s.File)
			continue
		}
		f := filepath.Join(d, s.File)
		// A weight goes to BFQ's own file when the bfq scheduler is loaded, as
		// runc does: v2's io.weight is io.cost's, which BFQ does not read,
		// and v1 has only blkio.bfq.weight since CFQ left (Linux 5.0).
		if bfq := filepath.Join(d, strings.Replace(s.File, "weight", "bfq.weight", 1)); s.BFQ != "" && bfq != f {
			if _, err := os.Stat(bfq); err == nil {
				f, s.Value = bfq, s.BFQ
			}
		}
		if _, err := os.Stat(f); err != nil && s.Optional {
			c.log.Note("%s is missing%s: %s is not applied", f, hint(s, os.ErrNotExist), s.Flag)
			continue
		}
		if err := c.write(f, s.Value); err != nil {
			return fmt.Errorf("%s: %w%s", s.Flag, err, hint(s, err))
		}
	}
	return nil
}

// memswOrder puts the v1 memory+swap limit before the memory limit when the
// new memory limit is above the current memory+swap limit: v1 insists that
// memory.limit_in_bytes ≤ memory.memsw.limit_in_bytes after every write.
func (c *Cgroup) memswOrder(ss []Setting) []Setting {
	li, si := -1, -1
	for i, s := range ss {
		switch s.File {
		case "memory.limit_in_bytes":
			li = i
		case "memory.memsw.limit_in_bytes":
			si = i
		}
	}
	if li < 0 || si < 0 || si < li {
		return ss
	}
	d, _ := c.dir("memory")
	cur, err := os.ReadFile(filepath.Join(d, "memory.memsw.limit_in_bytes"))
	if err != nil {
		return ss
	}
	now, _ := strconv.ParseInt(strings.TrimSpace(string(cur)), 10, 64)
	want, _ := strconv.ParseInt(ss[li].Value, 10, 64)
	if want <= now {
		return ss
	}
	out := append([]Setting(nil), ss...)
	out[li], out[si] = out[si], out[li]
	return out
}

// hint explains the common reasons a limit write fails.
func hint(s Setting, err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist) && strings.Contains(s.File, "memsw"):
		return " (the kernel does not account swap: boot it with swapaccount=1)"
	case errors.Is(err, os.ErrNotExist) && strings.Contains(s.File, "swap"):
		return " (the kernel was built without swap accounting, CONFIG_MEMCG_SWAP)"
	case errors.Is(err, os.ErrNotExist) && strings.Contains(s.File, "weight") && s.Controller == "io":
		return " (I/O weights need the BFQ scheduler: echo bfq > /sys/block/DEV/queue/scheduler)"
	case errors.Is(err, os.ErrNotExist):
		return " (this kernel has no such file)"
	case errors.Is(err, unix.EBUSY) && s.Controller == "memory":
		return " (the cgroup already uses more memory than that)"
	case errors.Is(err, unix.EINVAL) && s.Controller == "cpuset":
		return " (it must be within the parent's " + s.File + ")"
	case errors.Is(err, unix.EINVAL) && s.Controller == "cpu":
		return " (a child's CPU quota may not exceed its parent's)"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return " (needs root)"
	}
	return ""
}

func (c *Cgroup) mkdir(d string) error {
	c.log.Step(fmt.Sprintf("mkdir(%q, 0755)", d), "mkdir "+explain.Quote(d))
	if err := os.Mkdir(d, 0o755); err != nil {
		if errors.Is(err, os.ErrPermission) {
			return fmt.Errorf("create cgroup: %w (needs root)", err)
		}
		return fmt.Errorf("create cgroup: %w", err)
	}
	return nil
}

func (c *Cgroup) rmdir(d string) error {
	c.log.Step(fmt.Sprintf("rmdir(%q)", d), "rmdir "+explain.Quote(d))
	if err := unix.Rmdir(d); err != nil {
		return fmt.Errorf("remove cgroup %s: %w", d, err)
	}
	return nil
}

// write writes one value into one cgroup file, as `echo VALUE > FILE` does.
func (c *Cgroup) write(file, value string) error {
	c.log.Step(fmt.Sprintf("write(%q, %q)", file, value), fmt.Sprintf("echo %s > %s", explain.Quote(value), explain.Quote(file)))
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, file, err)
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", value, file, err)
	}
	return nil
}
