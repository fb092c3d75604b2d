// Package lifecycle keeps the state of ctr-run's containers and moves them
// through their lives: created, running, exited, removed.
//
// A container is a directory STATE/ID (STATE is /run/ctrkit by default, a
// tmpfs, so nothing survives a reboot, as with runc):
//
//	STATE/ID/meta.json        name, image, command, when it was created
//	STATE/ID/config.json      the pipe document the stages produced: the
//	                          OCI runtime spec ns-enter runs
//	STATE/ID/resources.json   what each stage made, with the command that
//	                          removes it (written by the stages themselves)
//	STATE/ID/pid              the container's PID, written by ns-enter --pid-file
//	STATE/ID/exit             its exit status, once it has ended
//	STATE/ID/log              its output, for a detached container
//	STATE/ID/supervisor       the PID of the supervisor of a detached container
package lifecycle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"ctrkit/internal/fsutil"
	"ctrkit/internal/store"
)

// Meta is what ctr-run knows about a container beyond its spec.
type Meta struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Image   string    `json:"image"`
	Command []string  `json:"command"`
	Created time.Time `json:"created"`
	Rm      bool      `json:"rm,omitempty"` // remove when it exits (--rm)
	NsEnter []string  `json:"nsEnter"`      // the arguments ns-enter runs it with
}

// Container is one container's state directory.
type Container struct {
	Meta
	Dir string
}

func stateOf(c *Container) string { return filepath.Dir(c.Dir) }

// Path names a file of the container's state directory.
func (c *Container) Path(name string) string { return filepath.Join(c.Dir, name) }

// Save writes meta.json.
func (c *Container) Save() error {
	data, err := json.MarshalIndent(c.Meta, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(c.Path("meta.json"), append(data, '\n'), 0o600)
}

// New makes the state directory of a container with meta m. A name in use
// is refused, as docker does.
func New(state string, m Meta) (*Container, error) {
	if m.Name != "" {
		if other, err := Find(state, m.Name); err == nil && other.ID != m.ID {
			return nil, fmt.Errorf("the name %q is already in use by container %s: remove it (ctr-run rm %s) or choose another --name", m.Name, other.ID, m.Name)
		}
	}
	c := &Container{Meta: m, Dir: filepath.Join(state, m.ID)}
	if err := store.EnsureState(state); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create container state: %w", err)
	}
	return c, c.Save()
}

// List returns every container with a meta.json under state, oldest first.
func List(state string) ([]*Container, error) {
	entries, err := os.ReadDir(state)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cs []*Container
	for _, e := range entries {
		if c, err := load(filepath.Join(state, e.Name())); err == nil {
			cs = append(cs, c)
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].Created.Before(cs[j].Created) })
	return cs, nil
}

// Find returns the container with this name, id, or unique id prefix.
func Find(state, ref string) (*Container, error) {
	cs, err := List(state)
	if err != nil {
		return nil, err
	}
	var match []*Container
	for _, c := range cs {
		if c.Name == ref || c.ID == ref {
			return c, nil
		}
		if strings.HasPrefix(c.ID, ref) {
			match = append(match, c)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return nil, fmt.Errorf("no such container: %q (ctr-run ps -a lists them)", ref)
	}
	return nil, fmt.Errorf("%q matches %d containers: give more of the id", ref, len(match))
}

func load(dir string) (*Container, error) {
	data, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		return nil, err
	}
	c := &Container{Dir: dir}
	if err := json.Unmarshal(data, &c.Meta); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "meta.json"), err)
	}
	return c, nil
}

// PID returns the container's process id while it runs, 0 otherwise.
func (c *Container) PID() int {
	pid := readInt(c.Path("pid"))
	if pid <= 0 || c.Exited() {
		return 0
	}
	if !alive(pid) {
		return 0
	}
	return pid
}

// alive reports whether process pid runs: it exists and is not a zombie
// (a dead process its parent has not reaped yet).
func alive(pid int) bool {
	if unix.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	rest := stat[strings.LastIndexByte(string(stat), ')')+1:]
	return !strings.HasPrefix(strings.TrimSpace(string(rest)), "Z")
}

// Exited reports whether the container has ended, and ExitCode its status.
func (c *Container) Exited() bool {
	_, err := os.Stat(c.Path("exit"))
	return err == nil
}

func (c *Container) ExitCode() int { return readInt(c.Path("exit")) }

// Status is what `ctr-run ps` shows: created, running or exited (N).
func (c *Container) Status() string {
	switch {
	case c.Exited():
		return fmt.Sprintf("exited (%d)", c.ExitCode())
	case c.PID() != 0:
		return "running"
	case readInt(c.Path("pid")) > 0:
		return "exited (unknown)" // its supervisor died with it
	}
	return "created"
}

// RecordExit writes the exit status.
func (c *Container) RecordExit(status int) error {
	return fsutil.WriteFile(c.Path("exit"), []byte(strconv.Itoa(status)+"\n"), 0o600)
}

func readInt(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return n
}
