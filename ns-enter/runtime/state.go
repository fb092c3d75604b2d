// Package runtime keeps what runc keeps between its calls: the state of each
// container made with `ns-enter create`, so that `start`, `state`, `kill`,
// `exec`, `pause` and `delete`, each a new process, find the container again.
//
// A container made through runc's command line lives in ROOT/ID/, ROOT being
// the runc CLI's --root (default /run/ctrkit/runc; not ctrkit's image store):
//
//	ROOT/ID/state.json   id, init pid and its start time, bundle, when created,
//	                     the cgroup (and whether ns-enter made it)
//	ROOT/ID/config.json  the spec as it was applied, for exec and the hooks
//	ROOT/ID/exec.fifo    exists from create until start: the container's
//	                     process waits, blocked opening it, before execve
//
// The status is never stored, it is read from the kernel each time, as runc
// does: the init process alive (the same process: a pid can be reused, so
// its start time in /proc/PID/stat must match) and the fifo still there →
// created; alive → running, or paused when its cgroup is frozen; else
// stopped.
package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"ctrkit/internal/fsutil"
	"ctrkit/ns-enter/container"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultRoot is where containers made through runc's command line are kept.
const DefaultRoot = "/run/ctrkit/runc"

// State is ROOT/ID/state.json.
type State struct {
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	PidStart    uint64            `json:"pidStart"` // /proc/PID/stat field 22
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Annotations map[string]string `json:"annotations,omitempty"`
	CgroupsPath string            `json:"cgroupsPath,omitempty"`
	CgroupMade  string            `json:"cgroupMade,omitempty"` // cg-limit's name of the cgroup ns-enter made: removed on delete
	// CallerMounts are the mounts a spec without a mount namespace made
	// in the caller's, below its root: unmounted on delete (container/callermounts.go).
	CallerMounts []container.Mounted `json:"callerMounts,omitempty"`

	dir string
}

// validID: runc's rule, so an id can never name a path outside ROOT.
// Compiled on first use, not at every start of ns-enter.
var validID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\w+\-.]+$`) })

// CheckID refuses ids that are empty or could escape ROOT.
func CheckID(id string) error {
	if !validID().MatchString(id) || id == "." || id == ".." {
		return fmt.Errorf("container id %q: use letters, digits, and _ + - . only", id)
	}
	return nil
}

// Dir is ROOT/ID.
func Dir(root, id string) string { return filepath.Join(root, id) }

// New makes ROOT/ID for a container being created; it fails if the id is
// taken. The directory is private to root: it holds the container's spec.
func New(root, id string) (*State, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("runtime root: %w", err)
	}
	dir := Dir(root, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("container %q exists already in %s: delete it first (ns-enter --root %s delete %s)", id, root, root, id)
		}
		return nil, fmt.Errorf("make the state directory: %w", err)
	}
	return &State{ID: id, Created: time.Now().UTC(), dir: dir}, nil
}

// Load reads ROOT/ID/state.json.
func Load(root, id string) (*State, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	dir := Dir(root, id)
	data, err := os.ReadFile(filepath.Join(dir, "state.json"))
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("container %q does not exist (in %s)", id, root)
	}
	if err != nil {
		return nil, err
	}
	s := &State{dir: dir}
	if err := json.Unmarshal(data, s); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "state.json"), err)
	}
	return s, nil
}

// List loads every container under root.
func List(root string) ([]*State, error) {
	entries, err := os.ReadDir(root)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*State
	for _, e := range entries {
		if s, err := Load(root, e.Name()); err == nil {
			out = append(out, s)
		}
	}
	return out, nil
}

// Path is a file in the container's state directory.
func (s *State) Path(name string) string { return filepath.Join(s.dir, name) }

// Save writes state.json atomically.
func (s *State) Save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(s.Path("state.json"), append(data, '\n'), 0o600)
}

// SaveSpec keeps the spec the container was made from.
func (s *State) SaveSpec(sp *specs.Spec) error {
	data, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	return fsutil.WriteFile(s.Path("config.json"), data, 0o600)
}

// Spec reads the spec the container was made from.
func (s *State) Spec() (*specs.Spec, error) {
	data, err := os.ReadFile(s.Path("config.json"))
	if err != nil {
		return nil, err
	}
	var sp specs.Spec
	return &sp, json.Unmarshal(data, &sp)
}

// Remove deletes the state directory.
func (s *State) Remove() error { return os.RemoveAll(s.dir) }

// SetPid records the init process, with its start time.
func (s *State) SetPid(pid int) error {
	start, err := StartTime(pid)
	if err != nil {
		return err
	}
	s.Pid, s.PidStart = pid, start
	return nil
}

// Alive reports whether the init process still runs (is not a zombie, and
// is the same process, not a later one given the same pid).
func (s *State) Alive() bool {
	if s.Pid <= 0 {
		return false
	}
	start, err := StartTime(s.Pid)
	if err != nil || start != s.PidStart {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.Pid))
	if err != nil {
		return false
	}
	f := procStatFields(stat)
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// Status is the OCI status, read from the kernel.
func (s *State) Status(frozen func(cgroupsPath string) bool) specs.ContainerState {
	switch {
	case !s.Alive():
		return specs.StateStopped
	case fileExists(s.Path("exec.fifo")):
		return specs.StateCreated
	case s.CgroupsPath != "" && frozen != nil && frozen(s.CgroupsPath):
		return "paused"
	}
	return specs.StateRunning
}

// OCIState is the state document of the runtime spec, which hooks read on
// stdin and `ns-enter state` prints.
func (s *State) OCIState(status specs.ContainerState) specs.State {
	st := specs.State{Version: specs.Version, ID: s.ID, Status: status, Bundle: s.Bundle, Annotations: s.Annotations}
	if status != specs.StateStopped {
		st.Pid = s.Pid
	}
	return st
}

// StartTime is field 22 of /proc/PID/stat, the process's start time in
// clock ticks after boot: with the pid, it names one process for good.
func StartTime(pid int) (uint64, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := procStatFields(stat)
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// procStatFields are the fields of /proc/PID/stat after the command name
// (which may hold spaces and parentheses): field 3 (state) first.
func procStatFields(stat []byte) []string {
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(stat[i+1:]))
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// Signal sends sig to the init process, if it is still the same process.
func (s *State) Signal(sig syscall.Signal) error {
	if !s.Alive() {
		return errors.New("container " + s.ID + " is not running")
	}
	return syscall.Kill(s.Pid, sig)
}
