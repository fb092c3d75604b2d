// Package fsutil keeps ctrkit's small state files whole while many
// processes run at once (fifty net-bridge attaches started together is a
// test; ctr-run, ns-enter and every stage write into the same state
// directory): an exclusive flock(2) on a lock file, and files replaced so
// that a reader sees the old content or the new, never half of it.
//
// It is the one owner of atomic writes in ctrkit, and kong-free, so every
// mechanism package may import it (internal/cli may not be imported there).
// It is hand-written rather than taken from a library (renameio,
// natefinch/atomic) because the few lines are the lesson: which system call
// makes which promise.
//
// Two rules make that hold:
//
//   - A lock file may be removed, but only by its holder (the last user,
//     tidying up). Whoever was waiting on the removed file then gets a lock
//     that nobody else can see, since the next process creates a new file;
//     so Lock checks, once it holds the lock, that its file is still the one
//     at the path, and tries again when it is not.
//   - A file is replaced by writing a temporary file with a name of its own
//     next to it (os.CreateTemp: two writers never share one, so neither
//     renames the other's half-written file), fsync(2)ing it, and
//     rename(2)ing it over the old one; rename within one directory is
//     atomic. fsync makes sure the rename never lands before the data it
//     names, and the fsync of the directory that the rename itself survives
//     a crash.
//
// internal/spec's resource list (STATE/ID/resources.json), net-bridge's
// records and IPAM store, ctr-run's container state, fs-layer's
// container.json and the image store's index.json take their locks and
// write their files here.
package fsutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// Lock takes an exclusive flock on dir/name, creating both when missing,
// and returns the open lock file: closing it releases the lock.
//
// Equivalent to: `flock DIR/NAME`.
func Lock(dir, name string) (*os.File, error) { return lock(dir, name, true) }

// LockExisting is Lock for a lock file that must exist already: it creates
// nothing, and fails with an error matching os.ErrNotExist when dir/name is
// gone (its last user removed it, so there is nothing left to change).
func LockExisting(dir, name string) (*os.File, error) { return lock(dir, name, false) }

func lock(dir, name string, create bool) (*os.File, error) {
	path := filepath.Join(dir, name)
	for {
		flags := os.O_RDWR
		if create {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create state dir %s: %w", dir, err)
			}
			flags |= os.O_CREATE
		}
		f, err := os.OpenFile(path, flags, 0o600)
		if create && errors.Is(err, os.ErrNotExist) {
			continue // the last user removed dir after our MkdirAll
		}
		if err != nil {
			return nil, fmt.Errorf("open the lock file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			f.Close()
			return nil, fmt.Errorf("flock %s (LOCK_EX): %w", path, err)
		}
		held, err1 := f.Stat()
		now, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, now) {
			return f, nil
		}
		f.Close() // its holder removed it while we waited: lock the new one
	}
}

// WriteFile replaces path with data, atomically: a temporary file in the
// same directory, fsync, rename over path, fsync of the directory.
//
// Equivalent to: `cat > .PATH.tmp-N && sync .PATH.tmp-N && mv .PATH.tmp-N PATH`.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return WriteFileIn(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*", path, data, perm)
}

// WriteFileIn is WriteFile with the temporary file made in tmpDir (on the
// same file system as path) and named by pattern (os.CreateTemp's), for a
// directory that must only ever hold finished files, such as an OCI image
// layout (internal/store keeps its temporary files in ROOT/oci.tmp).
func WriteFileIn(tmpDir, pattern, path string, data []byte, perm os.FileMode) error {
	return writeFile(tmpDir, pattern, path, data, perm, true)
}

// WriteDraft is WriteFile without its two fsyncs: as atomic (a reader finds
// the old file or the new one), not durable (after a crash the file may be
// gone or empty). For a record that is written again, with WriteFile, a
// moment later, or one that means nothing after a crash (internal/lease):
// an fsync waits for the disk, which a busy one makes tens of
// milliseconds.
//
// Equivalent to: `cat > .PATH.tmp-N && mv .PATH.tmp-N PATH`.
func WriteDraft(path string, data []byte, perm os.FileMode) error {
	return writeFile(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*", path, data, perm, false)
}

func writeFile(tmpDir, pattern, path string, data []byte, perm os.FileMode, durable bool) (err error) {
	f, err := os.CreateTemp(tmpDir, pattern)
	if err != nil {
		return fmt.Errorf("create a temporary file for %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	if durable {
		if err = f.Sync(); err != nil {
			return fmt.Errorf("fsync %s: %w", f.Name(), err)
		}
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", f.Name(), path, err)
	}
	if durable {
		SyncDir(filepath.Dir(path)) // the rename itself; a directory that cannot be synced loses nothing we wrote
	}
	return nil
}

// SyncDir makes a rename in dir durable: fsync(2) of the directory.
//
// Equivalent to: `sync DIR`.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// EnsureDir makes dir with exactly mode (its missing parents 0755), or
// takes the bits mode lacks away from an existing one (never adding any an
// administrator took away).
func EnsureDir(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	created := true
	if err := os.Mkdir(dir, mode); err != nil {
		if !os.IsExist(err) {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		created = false
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: move it away, ctrkit keeps its files there", dir)
	}
	have, want := fi.Mode().Perm(), mode
	if !created {
		want = have & mode
	}
	if have == want {
		return nil
	}
	if err := os.Chmod(dir, want); err != nil {
		return fmt.Errorf("chmod %o %s: %w", want, dir, err)
	}
	return nil
}
