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
//	STATE/ID/creator          PID@START of the ctr-run creating it (a lease:
//	                          written before any stage runs, removed when
//	                          create is done; see internal/lease)
//	STATE/ID/pid              the container's PID, written by ns-enter --pid-file
//	STATE/ID/process          PID@START of the container's process (see below)
//	STATE/ID/exit             its exit status, once it has ended
//	STATE/ID/log, log.1, …    its output, for a detached container (rotated)
//	STATE/ID/supervisor       PID@START of the supervisor of a detached
//	                          container, or of the foreground ctr-run
//	STATE/ID/paused           present while it is frozen (ctr-run pause)
//	STATE/ID/stopped          present once stop, kill or rm asked it to end:
//	                          the supervisor does not restart it then
//	STATE/ID/restarts         how often the supervisor restarted it
//
// # Names and PIDs that can be trusted
//
// Two concurrent `ctr-run --name web` must not both get the name: the
// check and the creation of the state directory happen under one lock,
// STATE/names.lock (flock(2), internal/fsutil), so the second sees the
// first's meta.json and fails with docker's "Conflict" message.
//
// A PID in a state file can outlive its process (a host crash, a killed
// supervisor), and the kernel reuses PIDs: stop, kill, rm and gc must never
// signal whatever runs under that number now. So the supervisor records the
// container process as PID@START (internal/proc: the start time from
// /proc/PID/stat) as soon as ns-enter has written STATE/ID/pid, and every
// signal goes through a pidfd after the start time matched.
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

	"ctrkit/internal/fsutil"
	"ctrkit/internal/proc"
	"ctrkit/internal/spec"
)

// Meta is what ctr-run knows about a container beyond its spec.
type Meta struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Image   string    `json:"image"`
	Command []string  `json:"command"`
	Created time.Time `json:"created"`
	Rm      bool      `json:"rm,omitempty"`      // remove when it exits (--rm)
	NsEnter []string  `json:"nsEnter"`           // the arguments ns-enter runs it with
	Restart string    `json:"restart,omitempty"` // --restart policy: no, on-failure[:N], always, unless-stopped
	Log     LogOpts   `json:"log"`               // --log-opt: rotation of STATE/ID/log
}

// Container is one container's state directory.
type Container struct {
	Meta
	Dir  string
	held *Held // the stages holding what they made (Options.Hold), for Remove
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

// New makes the state directory of a container with meta m, and its
// creator lease (this process). A name in use is refused, as docker does;
// the check and the directory are made under STATE/names.lock, so of two
// runs with one name exactly one gets it.
func New(state string, m Meta) (*Container, error) {
	c := &Container{Meta: m, Dir: filepath.Join(state, m.ID)}
	if err := spec.EnsureState(state); err != nil {
		return nil, err
	}
	lock, err := fsutil.Lock(state, "names.lock")
	if err != nil {
		return nil, err
	}
	defer func() {
		// The holder may tidy the lock file away (see internal/fsutil):
		// STATE keeps only containers.
		os.Remove(filepath.Join(state, "names.lock"))
		lock.Close()
	}()
	if m.Name != "" {
		if other, err := Find(state, m.Name); err == nil && other.ID != m.ID {
			return nil, &NameConflictError{Name: m.Name, ID: other.ID}
		}
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create container state: %w", err)
	}
	if err := fsutil.WriteFile(c.Path("creator"), []byte(proc.Self().String()+"\n"), 0o600); err != nil {
		os.RemoveAll(c.Dir)
		return nil, err
	}
	return c, c.Save()
}

// NameConflictError is docker's answer to a --name in use.
type NameConflictError struct{ Name, ID string }

func (e *NameConflictError) Error() string {
	return fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name (ctr-run rm -f %s)", e.Name, e.ID, e.Name)
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
