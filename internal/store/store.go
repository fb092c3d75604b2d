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
	"ctrkit/internal/fsutil"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

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
		if err := s.writeFile(filepath.Join(s.Dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`+"\n")); err != nil {
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

// writeFile replaces a file of the layout atomically, its temporary file in
// ROOT/oci.tmp so the layout only ever holds finished files (internal/fsutil).
func (s *Store) writeFile(path string, data []byte) error {
	return fsutil.WriteFileIn(s.tmpDir(), filepath.Base(path)+".*", path, data, 0o644)
}
