package store

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

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
