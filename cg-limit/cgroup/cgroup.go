package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/internal/ident"

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

// CheckName refuses names that are not one plain path element, or an
// absolute path of such elements.
func CheckName(name string) error {
	if rest, abs := strings.CutPrefix(name, "/"); abs {
		for _, el := range strings.Split(rest, "/") {
			if !ident.Valid(el, 64) {
				return fmt.Errorf("invalid cgroup path %q: each element is letters, digits, '_', '.' and '-' (at most 64), like /ctrkit/web", name)
			}
		}
		return nil
	}
	if !ident.Valid(name, 64) {
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
