package container

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/internal/kernel"
	"ctrkit/internal/mountinfo"
)

// joinCgroup moves pid into the cgroup named by linux.cgroupsPath, in every
// hierarchy where that cgroup exists: one directory on a cgroup v2 host, one
// per controller on v1, both on a hybrid host. The cgroup is made (and
// limited) by cg-limit; ns-enter only joins, before the container's first
// instruction runs, so nothing escapes the limits. A cgroup makeCgroup
// planned is made here, by the cg-limit call that also moves pid in.
// With self, stage 1 moves itself into the v1 hierarchies (see
// stage1Join), and only the v2 one is written here; born is the v2
// directory stage 1 was cloned into (bornCgroup), which is not.
func joinCgroup(log *explain.Log, path string, pid int, self *stage1Join, born string) error {
	if h := takePending(path); h != nil {
		if err := h.made(); err != nil { // cgroup_create.go
			return err
		}
	}
	dirs, err := CgroupDirs(path)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return fmt.Errorf("cgroup %q does not exist in any cgroup hierarchy: create it first (cg-limit create NAME), or remove linux.cgroupsPath from the spec", path)
	}
	if self != nil {
		if dirs, err = self.join(log, dirs); err != nil {
			return err
		}
	}
	for _, dir := range dirs {
		procs := filepath.Join(dir, "cgroup.procs")
		// The shell half moves the shell that will exec the program: $$
		// is its PID, and the kernel reads a PID written here in the
		// writer's own pid namespace.
		if dir == born {
			log.Step(fmt.Sprintf("clone3(CLONE_INTO_CGROUP, open(%q)) made stage 1 there", dir), "echo $$ > "+explain.Quote(procs))
			continue
		}
		log.Step(fmt.Sprintf("write(%q, \"%d\")", procs, pid), "echo $$ > "+explain.Quote(procs))
		if err := os.WriteFile(procs, []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("join cgroup: write %d to %s: %w", pid, procs, err)
		}
	}
	return nil
}

// bornCgroup is the cgroup v2 directory of path when the cgroup exists
// there already, for clone3's CLONE_INTO_CGROUP to make stage 1 in it
// (Linux 5.7): writing a PID into cgroup.procs takes the lock every fork
// and exit in the system takes for reading (cgroup_threadgroup_rwsem), and
// taking it for writing waits for an RCU grace period, 10-20 ms for a
// container started alone (docs/bench.md). "" when there is none, when
// makeCgroup is still making it, or on a kernel without the flag.
func bornCgroup(path string) string {
	if path == "" || isPending(path) || !kernel.CloneIntoCgroup() {
		return ""
	}
	dirs, _ := CgroupDirs(path)
	for _, dir := range dirs {
		if isV2(dir) {
			return dir
		}
	}
	return ""
}

// isV2 reports whether dir, a cgroup that exists, is in a cgroup v2
// hierarchy: v1 gives every cgroup a "tasks" file, v2 none. The one test
// of the version bornCgroup and join share.
func isV2(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "tasks"))
	return errors.Is(err, os.ErrNotExist)
}

// stage1Join is stage 1 waiting, before its Go runtime starts, to move
// itself into its cgroup (setns.CgroupEnv; package setns says why that is
// fast): the spec pipe the list goes on and the error pipe the answer
// comes back on.
type stage1Join struct{ send, answer *os.File }

// join has stage 1 write "0" to the "tasks" file of each cgroup v1
// directory in dirs, waits until it has, and returns the others (cgroup
// v2), which have no such file. The shell half does the same: a shell is
// one thread.
func (j *stage1Join) join(log *explain.Log, dirs []string) (rest []string, err error) {
	var list []byte
	for _, dir := range dirs {
		if isV2(dir) {
			rest = append(rest, dir)
			continue
		}
		tasks := filepath.Join(dir, "tasks")
		log.Step(fmt.Sprintf("write(%q, \"0\")", tasks), "echo 0 > "+explain.Quote(tasks))
		list = append(append(list, tasks...), 0)
	}
	if _, err := j.send.Write(append(list, 0)); err != nil {
		return nil, fmt.Errorf("join cgroup: send the cgroup to stage 1: %w", err)
	}
	line, err := bufio.NewReader(io.LimitReader(j.answer, 7)).ReadString('\n')
	if line != "cgroup\n" {
		more, _ := io.ReadAll(j.answer)
		if msg := append([]byte(line), more...); len(msg) > 0 {
			code, err := childError(msg)
			return nil, &exitcode.Error{Code: code, Err: fmt.Errorf("join cgroup: stage 1 could not move itself in: %v (cg-limit ls shows the cgroups; make it with cg-limit create NAME, or remove linux.cgroupsPath from the spec)", err)}
		}
		return nil, fmt.Errorf("join cgroup: stage 1 ended before it joined: %v", err)
	}
	return rest, nil
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
