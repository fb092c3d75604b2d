package store

// # One download per blob, resumable
//
// Ten pulls of one image at once must not download its layers ten times,
// and a pull cut in the middle of a 300 MB layer should not start it again
// from byte 0. containerd's content store solves both with "ingests": a
// blob being written has one writer, found by a lock named after its
// digest, and its partial data is kept under a stable name so the next
// writer continues where the last one stopped. Ingest does the same:
//
//	ROOT/oci.tmp/<hex>.lock      flock(2)ed by the one writer of blob <hex>
//	ROOT/oci.tmp/<hex>.partial   the bytes written so far
//
// The second pull of a blob waits for the lock; when it gets it, the blob
// is usually stored already and it has nothing to do. A writer that finds
// a partial file hashes what is there and asks the registry for the rest
// (HTTP Range). `img-pull gc`, which runs only when no writer does, removes
// partial files no one finished.

import (
	"context"
	"crypto/sha256"
	"ctrkit/internal/fsutil"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// An Ingest is the exclusive right to write one blob.
type Ingest struct {
	s      *Store
	d      v1.Hash
	size   int64
	lock   *os.File
	f      *os.File
	h      hash.Hash
	kicked int64 // bytes whose write-back to disk has been started
	Offset int64 // bytes written so far (resumed from an earlier writer)
	Stored bool  // the blob was stored meanwhile: nothing to write
	Waited bool  // another writer had the blob when Ingest was called
}

// Ingest waits (until ctx ends) for the right to write blob d of size
// bytes. When the blob is stored by then, Stored is set and nothing is to
// be written. Close releases it; a partial blob stays for the next one.
func (s *Store) Ingest(ctx context.Context, d v1.Hash, size int64) (*Ingest, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("blob %s: unsupported digest algorithm %q (only sha256)", d, d.Algorithm)
	}
	base := filepath.Join(s.tmpDir(), d.Hex)
	lock, err := os.OpenFile(base+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock blob %s: %w", d, err)
	}
	w := &Ingest{s: s, d: d, size: size, lock: lock}
	for {
		err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			lock.Close()
			return nil, fmt.Errorf("flock %s.lock: %w", base, err)
		}
		w.Waited = true
		select {
		case <-ctx.Done():
			lock.Close()
			return nil, fmt.Errorf("waiting for another pull writing blob %s: %w", d, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	if s.HasBlob(d, size) {
		w.Stored = true
		return w, nil
	}
	if w.f, err = os.OpenFile(base+".partial", os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		w.Close()
		return nil, fmt.Errorf("store blob %s: %w", d, err)
	}
	// Hash what an earlier writer left; more than the blob is garbage.
	w.h = sha256.New()
	n, err := io.Copy(w.h, w.f)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store blob %s: %w", d, err)
	}
	w.Offset = n
	w.kicked = n
	if n > size {
		if err := w.Reset(); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

// kick is how much a blob grows between two starts of its write-back.
const kick = 8 << 20

// Write appends p to the partial blob. Every 8 MiB it asks the kernel to
// start writing the new bytes to disk (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE, which does not wait): the disk works while the
// download goes on, and Commit's fsync waits only for what the disk has
// not written yet, where it used to start the whole blob's writing.
func (w *Ingest) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.Offset += int64(n)
	if err == nil && w.Offset > w.size {
		err = fmt.Errorf("blob %s: more than the %d bytes the manifest says", w.d, w.size)
	}
	if w.Offset-w.kicked >= kick {
		unix.SyncFileRange(int(w.f.Fd()), w.kicked, w.Offset-w.kicked, unix.SYNC_FILE_RANGE_WRITE) // a hint: Commit's fsync is what counts
		w.kicked = w.Offset
	}
	return n, err
}

// Reset drops what was written: the next byte written is the first.
func (w *Ingest) Reset() error {
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("store blob %s: %w", w.d, err)
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("store blob %s: %w", w.d, err)
	}
	w.h.Reset()
	w.Offset, w.kicked = 0, 0
	return nil
}

// Commit checks size and digest, then renames the blob into the store.
// Wrong content is dropped (Offset is 0 again) and reported as a
// *MismatchError.
func (w *Ingest) Commit() error {
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
	if w.Offset != w.size || got != w.d {
		err := &MismatchError{Want: w.d, Got: got, WantSize: w.size, GotSize: w.Offset}
		if rerr := w.Reset(); rerr != nil {
			return rerr
		}
		return err
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("store blob %s: %w", w.d, err)
	}
	if err := os.Chmod(w.f.Name(), 0o644); err != nil {
		return fmt.Errorf("store blob %s: %w", w.d, err)
	}
	if err := os.Rename(w.f.Name(), w.s.BlobPath(w.d)); err != nil {
		return fmt.Errorf("store blob %s: %w", w.d, err)
	}
	w.Stored = true
	return fsutil.SyncDir(filepath.Dir(w.s.BlobPath(w.d)))
}

// Close releases the blob for other writers.
func (w *Ingest) Close() {
	if w.f != nil {
		w.f.Close()
	}
	if w.Stored {
		os.Remove(filepath.Join(w.s.tmpDir(), w.d.Hex+".lock"))
	}
	w.lock.Close()
}
