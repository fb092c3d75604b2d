package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/internal/mountinfo"
)

// joinCgroup moves pid into the cgroup named by linux.cgroupsPath, in every
// hierarchy where that cgroup exists: one directory on a cgroup v2 host, one
// per controller on v1, both on a hybrid host. The cgroup is made (and
// limited) by cg-limit; ns-enter only joins, before the container's first
// instruction runs, so nothing escapes the limits. A cgroup makeCgroup
// planned is made here, by the cg-limit call that also moves pid in.
func joinCgroup(log *explain.Log, path string, pid int) error {
	if h := takePending(path); h != nil {
		if err := h.made(); err != nil { // cgroup_create.go
			return err
		}
	}
	dirs, err := CgroupDirs(path)
	if err != nil {
		return err
	}
	for _, dir := range dirs {
		procs := filepath.Join(dir, "cgroup.procs")
		// The shell half moves the shell that will exec the program: $$
		// is its PID, and the kernel reads a PID written here in the
		// writer's own pid namespace.
		log.Step(fmt.Sprintf("write(%q, \"%d\")", procs, pid), "echo $$ > "+explain.Quote(procs))
		if err := os.WriteFile(procs, []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("join cgroup: write %d to %s: %w", pid, procs, err)
		}
	}
	if len(dirs) == 0 {
		return fmt.Errorf("cgroup %q does not exist in any cgroup hierarchy: create it first (cg-limit create NAME), or remove linux.cgroupsPath from the spec", path)
	}
	return nil
}

// CgroupDirs lists the directories of cgroup path (linux.cgroupsPath) that
// exist, one per hierarchy it is in: one on a cgroup v2 host, one per
// controller on v1, both on a hybrid host.
func CgroupDirs(path string) ([]string, error) {
	if strings.Count(path, ":") == 2 {
		return nil, fmt.Errorf("linux.cgroupsPath %q is systemd's slice:prefix:name form, which ns-enter does not speak: use a path like /ctrkit/NAME", path)
	}
	ms, err := mountinfo.Read()
	if err != nil {
		return nil, err
	}
	var dirs []string
	seen := map[string]bool{}
	for _, m := range ms {
		if m.FSType != "cgroup" && m.FSType != "cgroup2" || seen[m.Mountpoint] {
			continue
		}
		seen[m.Mountpoint] = true
		dir := filepath.Join(m.Mountpoint, filepath.Clean("/"+path))
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			dirs = append(dirs, dir)
		}
	}
	return dirs, nil
}
