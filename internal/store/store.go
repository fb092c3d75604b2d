// Package store is ctrkit's local image store: an OCI image layout on disk,
// shared by img-pull (which fills it), fs-layer (which unpacks its layers)
// and img-build (which adds images to it).
//
// Layout (ROOT is --root, CTRKIT_ROOT, /var/lib/ctrkit by default):
//
//	ROOT/oci/oci-layout            {"imageLayoutVersion":"1.0.0"}
//	ROOT/oci/index.json            one descriptor per tagged image
//	ROOT/oci/blobs/sha256/<hex>    manifests, configs and layers, by digest
//	ROOT/oci.tmp/                  blobs being downloaded (never read)
//	ROOT/oci.lock                  held shared by writers, exclusively by gc
//	ROOT/oci.index.lock            held while index.json is rewritten
//
// ROOT/oci is a plain OCI image layout (github.com/opencontainers/image-spec
// image-layout.md), so other tools read it:
//
//	skopeo inspect oci:/var/lib/ctrkit/oci:docker.io/library/alpine:3.20
//	umoci unpack --image /var/lib/ctrkit/oci:docker.io/library/alpine:3.20 bundle
//
// Each image in index.json carries its full normalised name (see Normalize)
// in the annotation org.opencontainers.image.ref.name.
//
// # Why the store is never half-written
//
// A pull can be killed (kill -9, power cut) at any instant, and two pulls
// can run at once. Three rules keep the store valid whatever happens:
//
//  1. A blob is written under ROOT/oci.tmp with a unique name, its digest
//     and size are checked, it is fsync'ed and only then renamed into
//     blobs/sha256/. rename(2) is atomic: a blob path holds either nothing
//     or the complete, verified content. Two pulls writing the same blob
//     both rename identical bytes onto the same name, which is harmless.
//  2. index.json is changed last, after every blob the image needs is in
//     place, and it is rewritten as a temporary file renamed over the old
//     one, under an exclusive flock(2) on ROOT/oci.index.lock so two
//     writers cannot lose each other's tags.
//  3. Writers hold a shared flock on ROOT/oci.lock from their first blob to
//     their index update; gc takes it exclusively, so it never deletes a
//     blob that a running pull has written but not yet tagged.
//
// A killed pull therefore leaves at most a temporary file and some blobs no
// tag refers to; `img-pull gc` removes both.
package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RefNameAnnotation names an image in index.json (OCI image-spec).
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// ErrNotFound is returned when no image in the store has the given name.
var ErrNotFound = errors.New("image not in the store")

// Store is an OCI image layout under a ctrkit root.
type Store struct {
	Root string // the ctrkit root, e.g. /var/lib/ctrkit
	Dir  string // the layout, Root/oci
}

// Open returns the store under root, creating the empty layout if needed.
func Open(root string) (*Store, error) {
	s := &Store{Root: root, Dir: filepath.Join(root, "oci")}
	if err := EnsureRoot(root); err != nil {
		return nil, fmt.Errorf("create image store: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir, "blobs", "sha256"), 0o755); err != nil {
		return nil, fmt.Errorf("create image store: %w", err)
	}
	if err := os.MkdirAll(s.tmpDir(), 0o700); err != nil {
		return nil, fmt.Errorf("create image store: %w", err)
	}
	// A new store gets its oci-layout file; an existing one (it has an
	// index.json) without one was damaged, and is reported, not repaired:
	// writing a new one would hide that someone changed the store.
	if _, err := os.Stat(s.indexPath()); errors.Is(err, os.ErrNotExist) {
		if err := writeFileAtomic(filepath.Join(s.Dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n"), s.tmpDir()); err != nil {
			return nil, err
		}
	} else if err := s.checkLayout(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(s.indexPath()); errors.Is(err, os.ErrNotExist) {
		unlock, err := s.lock("oci.index.lock", syscall.LOCK_EX)
		if err != nil {
			return nil, err
		}
		defer unlock()
		if _, err := os.Stat(s.indexPath()); errors.Is(err, os.ErrNotExist) {
			if err := s.writeIndex(&v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

func (s *Store) indexPath() string { return filepath.Join(s.Dir, "index.json") }
func (s *Store) tmpDir() string    { return filepath.Join(s.Root, "oci.tmp") }

// BlobPath is where the blob with digest d lives: Dir/blobs/sha256/<hex>.
func (s *Store) BlobPath(d v1.Hash) string {
	return filepath.Join(s.Dir, "blobs", d.Algorithm, d.Hex)
}

// HasBlob reports whether the blob d of size bytes is stored. Blobs are
// verified before they get their name, so a present blob is a good one.
func (s *Store) HasBlob(d v1.Hash, size int64) bool {
	fi, err := os.Stat(s.BlobPath(d))
	return err == nil && fi.Mode().IsRegular() && fi.Size() == size
}

// ReadBlob returns the content of blob d.
func (s *Store) ReadBlob(d v1.Hash) ([]byte, error) {
	data, err := os.ReadFile(s.BlobPath(d))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	return data, nil
}

// A MismatchError says that a blob's bytes are not what its descriptor
// promised: corrupted in transit, or a registry serving the wrong content.
type MismatchError struct {
	Want, Got         v1.Hash
	WantSize, GotSize int64
}

func (e *MismatchError) Error() string {
	if e.GotSize != e.WantSize {
		return fmt.Sprintf("blob %s: size mismatch: got %d bytes, the manifest says %d", e.Want, e.GotSize, e.WantSize)
	}
	return fmt.Sprintf("blob %s: digest mismatch: the bytes received hash to %s", e.Want, e.Got)
}

// PutBlob stores the blob d of size bytes read from r, verifying both: the
// content is hashed while it is written to a temporary file, which is
// renamed to blobs/sha256/<hex> only when digest and size match. A blob
// that is already stored is not rewritten (r is not read). The returned
// error is a *MismatchError when the content is wrong; nothing is stored
// then.
func (s *Store) PutBlob(d v1.Hash, size int64, r io.Reader) error {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("blob %s: unsupported digest algorithm %q (only sha256)", d, d.Algorithm)
	}
	if s.HasBlob(d, size) {
		return nil
	}
	f, err := os.CreateTemp(s.tmpDir(), d.Hex+".*")
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	h := sha256.New()
	// Read one byte more than promised, to notice a blob that is too long.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	if n != size || got != d {
		return &MismatchError{Want: d, Got: got, WantSize: size, GotSize: n}
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	if err := os.Rename(tmp, s.BlobPath(d)); err != nil {
		return fmt.Errorf("store blob %s: %w", d, err)
	}
	return syncDir(filepath.Dir(s.BlobPath(d)))
}

// PutBytes stores data as a blob and returns its descriptor.
func (s *Store) PutBytes(mediaType types.MediaType, data []byte) (v1.Descriptor, error) {
	sum := sha256.Sum256(data)
	d := v1.Descriptor{MediaType: mediaType, Size: int64(len(data)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	return d, s.PutBlob(d.Digest, d.Size, bytes.NewReader(data))
}

// Writing marks the start of a write (a pull, an import): until release is
// called, gc waits. Call it before the first PutBlob and release after Tag.
func (s *Store) Writing() (release func(), err error) {
	return s.lock("oci.lock", syscall.LOCK_SH)
}

func (s *Store) lock(name string, how int) (func(), error) {
	path := filepath.Join(s.Root, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock image store: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		return nil, fmt.Errorf("flock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

// Index reads index.json.
func (s *Store) Index() (*v1.IndexManifest, error) {
	data, err := os.ReadFile(s.indexPath())
	if err != nil {
		return nil, fmt.Errorf("read image store index: %w", err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(data, &idx); err != nil {
		return nil, fmt.Errorf("parse %s: %w", s.indexPath(), err)
	}
	return &idx, nil
}

func (s *Store) writeIndex(idx *v1.IndexManifest) error {
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	data, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.indexPath(), append(data, '\n'), s.tmpDir())
}

// Tag records in index.json that name (a full name, see Normalize) is the
// image described by desc, replacing the image the name had before. Every
// blob desc refers to must already be stored.
func (s *Store) Tag(name string, desc v1.Descriptor) error {
	unlock, err := s.lock("oci.index.lock", syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.Index()
	if err != nil {
		return err
	}
	kept := idx.Manifests[:0]
	for _, m := range idx.Manifests {
		if m.Annotations[RefNameAnnotation] != name {
			kept = append(kept, m)
		}
	}
	ann := map[string]string{RefNameAnnotation: name}
	for k, v := range desc.Annotations {
		if k != RefNameAnnotation {
			ann[k] = v
		}
	}
	desc.Annotations = ann
	idx.Manifests = append(kept, desc)
	return s.writeIndex(idx)
}

// Entry is one named image of the store.
type Entry struct {
	Name       string        `json:"name"`
	Descriptor v1.Descriptor `json:"descriptor"`
}

// List returns the named images, sorted by name.
func (s *Store) List() ([]Entry, error) {
	idx, err := s.Index()
	if err != nil {
		return nil, err
	}
	var es []Entry
	for _, m := range idx.Manifests {
		es = append(es, Entry{Name: m.Annotations[RefNameAnnotation], Descriptor: m})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
	return es, nil
}

// Find returns the image named ref: a reference in any form Normalize
// accepts (alpine:3.20 finds docker.io/library/alpine:3.20), or a manifest
// digest, whole or as a prefix of at least 12 hex digits (sha256:ab12…).
func (s *Store) Find(ref string) (Entry, error) {
	es, err := s.List()
	if err != nil {
		return Entry{}, err
	}
	if hexPart, ok := strings.CutPrefix(ref, "sha256:"); ok && len(hexPart) >= 12 {
		for _, e := range es {
			if e.hasDigest(hexPart) {
				return e, nil
			}
		}
		return Entry{}, fmt.Errorf("%s: %w (img-pull ls lists them)", ref, ErrNotFound)
	}
	r, err := ParseReference(ref)
	if err != nil {
		return Entry{}, err
	}
	full := FullName(r)
	for _, e := range es {
		if e.Name == full {
			return e, nil
		}
	}
	// NAME@sha256:… also finds an image of that repository pulled by tag,
	// by its stored digest or by the digest the registry gave it.
	if d, ok := r.(name.Digest); ok {
		repo, _, _ := strings.Cut(full, "@")
		for _, e := range es {
			if repoOf(e.Name) == repo && e.hasDigest(strings.TrimPrefix(d.DigestStr(), "sha256:")) {
				return e, nil
			}
		}
	}
	return Entry{}, fmt.Errorf("%s: %w (pull it with `img-pull %s`; img-pull ls lists the images)", full, ErrNotFound, ref)
}

// Remove deletes the name ref from index.json and returns what it named.
// The blobs stay until gc, since other images may share them.
func (s *Store) Remove(ref string) (Entry, error) {
	unlock, err := s.lock("oci.index.lock", syscall.LOCK_EX)
	if err != nil {
		return Entry{}, err
	}
	defer unlock()
	e, err := s.Find(ref)
	if err != nil {
		return Entry{}, err
	}
	idx, err := s.Index()
	if err != nil {
		return Entry{}, err
	}
	kept := idx.Manifests[:0]
	for _, m := range idx.Manifests {
		if m.Annotations[RefNameAnnotation] != e.Name {
			kept = append(kept, m)
		}
	}
	idx.Manifests = kept
	return e, s.writeIndex(idx)
}

// GC deletes every blob no image in index.json refers to (directly, or
// through a manifest list or a manifest), and the temporary files of
// writes that never finished. It waits for running writes to end.
func (s *Store) GC() (removed []v1.Hash, freed int64, err error) {
	unlock, err := s.lock("oci.lock", syscall.LOCK_EX)
	if err != nil {
		return nil, 0, err
	}
	defer unlock()
	dead, _, err := s.Unreferenced(nil)
	if err != nil {
		return nil, 0, fmt.Errorf("gc: %w (nothing was removed)", err)
	}
	dir := filepath.Join(s.Dir, "blobs", "sha256")
	for _, h := range dead {
		p := filepath.Join(dir, h.Hex)
		if fi, err := os.Stat(p); err == nil {
			freed += fi.Size()
		}
		if err := os.Remove(p); err != nil {
			return removed, freed, fmt.Errorf("gc: %w", err)
		}
		removed = append(removed, h)
	}
	// No writer runs while we hold oci.lock exclusively: every temporary
	// file is a leftover.
	tmps, _ := os.ReadDir(s.tmpDir())
	for _, de := range tmps {
		if fi, err := de.Info(); err == nil {
			freed += fi.Size()
		}
		os.Remove(filepath.Join(s.tmpDir(), de.Name()))
	}
	return removed, freed, nil
}

// Unreferenced lists the blobs, and their total size, that no image in
// index.json reaches (directly, or through a manifest list or a
// manifest): what GC removes. gone names images (by ref.name) to count as
// removed already, for a dry run; nil counts every one.
func (s *Store) Unreferenced(gone map[string]bool) ([]v1.Hash, int64, error) {
	idx, err := s.Index()
	if err != nil {
		return nil, 0, err
	}
	live := map[v1.Hash]bool{}
	var mark func(d v1.Descriptor) error
	mark = func(d v1.Descriptor) error {
		if live[d.Digest] {
			return nil
		}
		live[d.Digest] = true
		switch {
		case d.MediaType.IsIndex():
			data, err := s.ReadBlob(d.Digest)
			if err != nil {
				return err
			}
			im, err := v1.ParseIndexManifest(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("parse index %s: %w", d.Digest, err)
			}
			for _, m := range im.Manifests {
				if s.HasBlob(m.Digest, m.Size) {
					if err := mark(m); err != nil {
						return err
					}
				}
			}
		case d.MediaType.IsImage():
			data, err := s.ReadBlob(d.Digest)
			if err != nil {
				return err
			}
			m, err := v1.ParseManifest(bytes.NewReader(data))
			if err != nil {
				return fmt.Errorf("parse manifest %s: %w", d.Digest, err)
			}
			live[m.Config.Digest] = true
			for _, l := range m.Layers {
				live[l.Digest] = true
			}
		}
		return nil
	}
	for _, m := range idx.Manifests {
		if gone[m.Annotations[RefNameAnnotation]] {
			continue
		}
		if err := mark(m); err != nil {
			return nil, 0, err
		}
	}
	ents, err := os.ReadDir(filepath.Join(s.Dir, "blobs", "sha256"))
	if err != nil {
		return nil, 0, err
	}
	var dead []v1.Hash
	var size int64
	for _, de := range ents {
		h := v1.Hash{Algorithm: "sha256", Hex: de.Name()}
		if live[h] {
			continue
		}
		dead = append(dead, h)
		if fi, err := de.Info(); err == nil {
			size += fi.Size()
		}
	}
	return dead, size, nil
}

// writeFileAtomic writes data to a temporary file in tmpDir, fsyncs it and
// renames it to path, so a reader sees the old content or the new, never a
// part. tmpDir must be on the same file system as path.
func writeFileAtomic(path string, data []byte, tmpDir string) error {
	f, err := os.CreateTemp(tmpDir, filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable (fsync of the directory).
func syncDir(dir string) error {
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
