package runtime

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/internal/sibling"
	"ctrkit/ns-enter/container"
)

// The runtime reads a container's cgroup (its processes, whether it is
// frozen) but never changes it itself: freezing, limits and removal stay
// cg-limit's, which it runs as ctr-run does.

// Pids lists the processes in the container's cgroup, as `runc ps` does.
func (s *State) Pids() ([]int, error) {
	if s.CgroupsPath == "" {
		if s.Alive() {
			return []int{s.Pid}, nil
		}
		return nil, nil
	}
	dirs, err := container.CgroupDirs(s.CgroupsPath)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(pids, pid) {
				pids = append(pids, pid)
			}
		}
	}
	slices.Sort(pids)
	return pids, nil
}

// Frozen reports whether cgroup path is frozen: "FROZEN" in v1's
// freezer.state, "frozen 1" in v2's cgroup.events (Linux 5.2).
func Frozen(path string) bool {
	dirs, _ := container.CgroupDirs(path)
	for _, d := range dirs {
		if data, err := os.ReadFile(filepath.Join(d, "freezer.state")); err == nil {
			return strings.TrimSpace(string(data)) == "FROZEN"
		}
		if data, err := os.ReadFile(filepath.Join(d, "cgroup.events")); err == nil && bytes.Contains(data, []byte("frozen 1")) {
			return true
		}
	}
	return false
}

// CgLimit runs `cg-limit ARGS…` (the sibling command), its output to
// stderr, and returns its error with what it said.
func CgLimit(log *explain.Log, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.Command(sibling.Path("cg-limit"), args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if log.Enabled() {
		cmd.Env = append(os.Environ(), "CTRKIT_EXPLAIN=1")
		cmd.Stderr = os.Stderr
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("cg-limit %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}
