// Package lease records what a process is about to make, before it makes
// it, so that whatever a killed process leaves behind can be found again.
//
// A process killed with SIGKILL runs no deferred cleanup: a half-unpacked
// layer, a temporary image name, a container's cgroup stay where they are,
// and nothing says whose they were. containerd's answer is the lease: a
// client takes a lease, names every resource in it before creating the
// resource, and deletes the lease when done; its garbage collector keeps
// everything a live lease names and may collect the rest. We do the same
// with files:
//
//	DIR/ID.json   {"holder": {"pid": 4711, "start": 81234}, "kind": "unpack",
//	               "resources": ["layers/tmp/4b1c….ID"]}
//
// The holder is a process identity (PID and start time, see internal/proc),
// so a lease whose process has died, even when its PID now runs something
// else, is known to be stale. A gc then removes what the stale lease names
// and the lease itself; a lease whose holder still runs protects what it
// names. The order is the whole trick: record, then make; so there is never
// a thing made that no lease names while its maker lives.
package lease

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"ctrkit/internal/fsutil"
	"ctrkit/internal/proc"
)

// A Lease names a process and the resources it is making.
type Lease struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	Holder    proc.ID   `json:"holder"`
	Created   time.Time `json:"created"`
	Resources []string  `json:"resources,omitempty"`

	dir string
	mu  sync.Mutex
}

// Take writes a new lease held by this process into dir.
func Take(dir, kind string) (*Lease, error) {
	b := make([]byte, 6)
	for i := range b {
		b[i] = byte(rand.IntN(256))
	}
	l := &Lease{ID: hex.EncodeToString(b), Kind: kind, Holder: proc.Self(), Created: time.Now().UTC(), dir: dir}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("take a lease in %s: %w", dir, err)
	}
	return l, l.save()
}

// Path is the lease's file.
func (l *Lease) Path() string { return filepath.Join(l.dir, l.ID+".json") }

func (l *Lease) save() error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	// Atomic, so that a gc never reads half a lease, and not durable: a
	// lease protects its resources only while its process runs, and after
	// a crash none does; each gc takes what no live lease names as a
	// leftover, a lease or not (fs-layer's tmp/ and ckb- containers,
	// img-build's tags). The fsyncs were four per fs-layer mount, on every
	// container's start (docs/bench.md).
	if err := fsutil.WriteDraft(l.Path(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write lease %s: %w", l.Path(), err)
	}
	return nil
}

// Add records resources in the lease; call it before making them.
func (l *Lease) Add(res ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Resources = append(l.Resources, res...)
	return l.save()
}

// Release deletes the lease: what it named is done, or was removed.
func (l *Lease) Release() error {
	if err := os.Remove(l.Path()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Held reports whether the lease's process still runs.
func (l *Lease) Held() bool { return l.Holder.Alive() }

// List reads every lease in dir, oldest first. A lease file that cannot be
// read (being written, or torn by a crash) is returned with no holder and
// no resources, so it counts as stale.
func List(dir string) ([]*Lease, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Lease
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		l := &Lease{ID: id, dir: dir}
		if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			json.Unmarshal(data, l)
			l.ID = id
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Live returns the set of resources named by leases whose holder runs.
func Live(dir string) (map[string]bool, error) {
	ls, err := List(dir)
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, l := range ls {
		if l.Held() {
			for _, r := range l.Resources {
				live[r] = true
			}
		}
	}
	return live, nil
}
