package store

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

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
	return s.writeFile(s.indexPath(), append(data, '\n'))
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

// Entry is one named image of the store.
type Entry struct {
	Name       string        `json:"name"`
	Descriptor v1.Descriptor `json:"descriptor"`
}
