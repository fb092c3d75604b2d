package spec

// The state directory, STATE/ID (STATE is --state, CTRKIT_STATE,
// /run/ctrkit by default): this file is the one owner of its resource list,
// STATE/ID/resources.json, which every stage appends to (Record) and each
// removes its own entries from (Forget, ForgetStage) once its command has
// undone them. Every change happens under an exclusive flock(2) on
// STATE/ID/.lock and replaces the file atomically (internal/fsutil: a
// temporary file of its own, fsync, rename), so fifty stages writing at once
// lose nothing and a reader never sees half a list. The last one out removes
// the lock file and the directory, as fsutil.Lock allows its holder to.
//
//	STATE/ID/resources.json   what each stage made, with its undo command
//	STATE/ID/.lock            the lock every writer of the list takes
//
// Other files there belong to the stage that writes them (net-bridge's
// hosts and resolv.conf, ctr-run's meta.json, see ctr-run/lifecycle).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"ctrkit/internal/fsutil"
)

// EnsureState makes the state directory STATE 0700, as docker keeps
// /run/docker: the containers' mounted roots are under it (the modes of
// all ctrkit's directories: internal/store/dirs.go).
func EnsureState(state string) error { return fsutil.EnsureDir(state, 0o700) }

// StateResources reads what was recorded for container id under state.
func StateResources(state, id string) ([]Resource, error) {
	data, err := os.ReadFile(filepath.Join(state, id, resourcesFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rs []Resource
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(state, id, resourcesFile), err)
	}
	return rs, nil
}

// appendState adds r to dir/resources.json under an exclusive flock on
// dir/.lock, replacing the file atomically so a reader never sees half a
// list (fsutil.Lock, fsutil.WriteFile).
func appendState(dir string, r Resource) error {
	if err := EnsureState(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	lock, err := fsutil.Lock(dir, ".lock")
	if err != nil {
		return fmt.Errorf("lock state dir: %w", err)
	}
	defer lock.Close()
	rs, err := StateResources(filepath.Dir(dir), filepath.Base(dir))
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(append(rs, r), "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(filepath.Join(dir, resourcesFile), append(data, '\n'), 0o600)
}

// resourcesFile is the list's name in STATE/ID.
const resourcesFile = "resources.json"

// Recorded says whether stage recorded a resource for id, one of the
// given names, or any when no name is given: a removal asks it of what it
// no longer finds, to tell an interrupted earlier removal (the record is
// left; forget it) from a mistake.
func Recorded(state, id, stage string, names ...string) bool {
	rs, _ := StateResources(state, id)
	for _, r := range rs {
		if r.Stage == stage && (len(names) == 0 || slices.Contains(names, r.Name)) {
			return true
		}
	}
	return false
}

// Forget removes from STATE/ID/resources.json the resources of stage named
// name, once its command has removed them, and the directory when nothing
// else is left in it. Each stage forgets its own (net-bridge detach,
// cg-limit rm), so that the state of a container that another tool made
// and removes piece by piece does not outlive it.
func Forget(state, id, stage, name string) error {
	return forget(state, id, func(r Resource) bool { return r.Stage == stage && r.Name == name })
}

// ForgetStage is Forget for every resource stage recorded for id
// (net-bridge detach undoes all of its own at once).
func ForgetStage(state, id, stage string) error {
	return forget(state, id, func(r Resource) bool { return r.Stage == stage })
}

// forget removes the entries drop chooses, under the lock, and tidies the
// directory away once the list is empty and nothing but the lock file is
// left (a file of another stage keeps it).
func forget(state, id string, drop func(Resource) bool) error {
	dir := filepath.Join(state, id)
	lock, err := fsutil.LockExisting(dir, ".lock")
	if errors.Is(err, os.ErrNotExist) {
		return removeEmpty(dir) // nothing was ever recorded: nothing to change
	}
	if err != nil {
		return fmt.Errorf("lock state dir: %w", err)
	}
	defer lock.Close()
	rs, err := StateResources(state, id)
	if err != nil {
		return err
	}
	var keep []Resource
	for _, r := range rs {
		if !drop(r) {
			keep = append(keep, r)
		}
	}
	if len(keep) > 0 && len(keep) == len(rs) {
		return nil
	}
	res := filepath.Join(dir, resourcesFile)
	if len(keep) > 0 {
		data, err := json.MarshalIndent(keep, "", "  ")
		if err != nil {
			return err
		}
		return fsutil.WriteFile(res, append(data, '\n'), 0o600)
	}
	if err := os.Remove(res); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if es, err := os.ReadDir(dir); err == nil && len(es) == 1 && es[0].Name() == ".lock" {
		os.Remove(filepath.Join(dir, ".lock")) // held by us: see fsutil.Lock
	}
	return removeEmpty(dir)
}

// removeEmpty removes dir when it is empty; a missing or non-empty one is
// left as it is.
func removeEmpty(dir string) error {
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// CleanState removes STATE/ID when it holds nothing but the resource list
// and every resource in it is stage's: the other stages (cg-limit,
// net-bridge, ns-enter) clean their own, so a directory with one of their
// records, or any other file, stays. It is best effort: an error leaves the
// directory in place.
func CleanState(state, id, stage string) {
	dir := filepath.Join(state, id)
	lock, err := fsutil.LockExisting(dir, ".lock")
	if err != nil {
		return
	}
	defer lock.Close()
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		// fsutil.WriteFile's temporary files are .NAME.tmp-*: one left by a
		// writer that was killed is ours to remove with the rest.
		if e.Name() != resourcesFile && e.Name() != ".lock" && !strings.HasPrefix(e.Name(), "."+resourcesFile+".tmp") {
			return
		}
	}
	rs, err := StateResources(state, id)
	if err != nil {
		return
	}
	for _, r := range rs {
		if r.Stage != stage {
			return
		}
	}
	os.RemoveAll(dir) // the lock file with it: held by us, see fsutil.Lock
}
