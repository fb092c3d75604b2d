package layer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ctrkit/internal/lease"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// # Garbage collection of the layer store
//
// A layer is unpacked into ROOT/layers/tmp/ and renamed into place, so a
// killed fs-layer leaves a half-made directory in tmp/ (often hundreds of
// megabytes) and never a half-made layer. Before making that directory,
// fs-layer records it in a lease (internal/lease: ROOT/leases/ID.json,
// with its own PID and start time). GC then knows, for each directory in
// tmp/, whether an fs-layer still works on it (its lease's process runs)
// or whether it is a leftover.
//
// Layers stay unpacked after their image is removed (img-pull rm), since
// another image or a container may share them. GC removes a layer that no
// image of the store, no container (ROOT/containers/ID/container.json) and
// no live lease names.
//
// ROOT/layers/l/ holds the short links overlay mounts use (see the overlay
// package). Without its link a layer cannot be a lowerdir and the mount
// fails; GC recreates a missing link and removes one that points nowhere.

// A GCItem is one thing gc removed, repaired, or would.
type GCItem struct {
	Action string // "remove" or "repair"
	Path   string // relative to ROOT
	Why    string
	Bytes  int64
}

// leaseDir is where fs-layer's leases live.
func leaseDir(root string) string { return filepath.Join(root, "leases") }

func (s *Store) root() string { return filepath.Dir(s.Dir) }

func (s *Store) takeLease(ls []Layer) (*lease.Lease, error) {
	l, err := lease.Take(leaseDir(s.root()), "unpack")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, x := range ls {
		names = append(names, filepath.Join("layers", x.ChainID.Hex))
	}
	return l, l.Add(names...)
}

// EnsureLink makes the short link of an unpacked layer when it is missing
// or wrong, and reports whether it did.
//
// Equivalent to: `ln -sfn ../CHAIN/diff ROOT/layers/l/SHORT`.
func EnsureLink(layersDir string, chain v1.Hash) (bool, error) {
	link := filepath.Join(layersDir, Short(chain))
	want := "../" + chain.Hex + "/diff"
	if got, err := os.Readlink(link); err == nil && got == want {
		return false, nil
	}
	if _, err := os.Stat(filepath.Join(layersDir, chain.Hex, "diff")); err != nil {
		return false, fmt.Errorf("layer %s is not unpacked (%w): fs-layer unpack IMAGE", chain, err)
	}
	os.Remove(link)
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		return false, err
	}
	if err := os.Symlink(want, link); err != nil {
		return false, fmt.Errorf("repair %s: %w", link, err)
	}
	return true, nil
}

// isLayerName: a chain id, 64 hex digits.
func isLayerName(s string) bool { return len(s) == 64 && onlyFrom(s, "0123456789abcdef") }

// isTmpName: CHAIN12.LEASE (older: CHAIN12.RANDOM).
func isTmpName(s string) bool {
	chain, lease, ok := strings.Cut(s, ".")
	return ok && len(chain) == 12 && onlyFrom(chain, "0123456789abcdef") && lease != "" && onlyFrom(lease, "0123456789abcdefghijklmnopqrstuvwxyz")
}

// onlyFrom tells whether every byte of s is in set.
func onlyFrom(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

// GC collects the layer store under root, as described above; with dryRun
// it only says what it would do. containerChains are the chain ids every
// container uses.
func (s *Store) GC(images *store.Store, containerChains []string, dryRun bool) ([]GCItem, error) {
	root := s.root()
	var out []GCItem
	do := func(it GCItem, f func() error) error {
		if !dryRun {
			if err := f(); err != nil {
				return fmt.Errorf("gc %s: %w", it.Path, err)
			}
		}
		out = append(out, it)
		return nil
	}
	leases, err := lease.List(leaseDir(root))
	if err != nil {
		return nil, err
	}
	live := map[string]bool{}
	for _, l := range leases {
		if l.Held() {
			for _, r := range l.Resources {
				live[r] = true
			}
		}
	}
	// 1. Half-unpacked layers, and the leases of unpacks that were killed.
	tmps, _ := os.ReadDir(s.TmpDir())
	for _, e := range tmps {
		rel := filepath.Join("layers", "tmp", e.Name())
		if !isTmpName(e.Name()) || live[rel] {
			continue
		}
		it := GCItem{Action: "remove", Path: rel, Why: "an unpack that was killed", Bytes: du(filepath.Join(root, rel))}
		if err := do(it, func() error { return os.RemoveAll(filepath.Join(root, rel)) }); err != nil {
			return out, err
		}
	}
	for _, l := range leases {
		if l.Kind == "unpack" && !l.Held() {
			rel, _ := filepath.Rel(root, l.Path())
			if err := do(GCItem{Action: "remove", Path: rel, Why: fmt.Sprintf("the lease of fs-layer %s, which no longer runs", l.Holder)}, l.Release); err != nil {
				return out, err
			}
		}
	}
	// 2. Layers nobody uses.
	used, err := usedChains(images)
	if err != nil {
		return out, fmt.Errorf("%w (no layer was removed)", err)
	}
	for _, ch := range containerChains {
		h, err := v1.NewHash(ch)
		if err == nil {
			used[h.Hex] = true
		}
	}
	ents, err := os.ReadDir(s.Dir)
	if err != nil {
		return out, err
	}
	for _, e := range ents {
		rel := filepath.Join("layers", e.Name())
		if !isLayerName(e.Name()) || used[e.Name()] || live[rel] {
			continue
		}
		it := GCItem{Action: "remove", Path: rel, Why: "no image or container uses it", Bytes: du(filepath.Join(root, rel))}
		err := do(it, func() error {
			os.Remove(filepath.Join(s.Dir, "l", e.Name()[:12]))
			return os.RemoveAll(filepath.Join(root, rel))
		})
		if err != nil {
			return out, err
		}
	}
	// 3. The short links.
	for _, e := range ents {
		if !isLayerName(e.Name()) || !used[e.Name()] && !live[filepath.Join("layers", e.Name())] {
			continue
		}
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		link := filepath.Join(s.Dir, Short(h))
		if got, err := os.Readlink(link); err == nil && got == "../"+h.Hex+"/diff" {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.Dir, h.Hex, "layer.json")); err != nil {
			continue // being renamed into place
		}
		rel := filepath.Join("layers", Short(h))
		if err := do(GCItem{Action: "repair", Path: rel, Why: "the short link overlay mounts use was missing"}, func() error {
			_, err := EnsureLink(s.Dir, h)
			return err
		}); err != nil {
			return out, err
		}
	}
	links, _ := os.ReadDir(filepath.Join(s.Dir, "l"))
	for _, e := range links {
		p := filepath.Join(s.Dir, "l", e.Name())
		if _, err := os.Stat(p); err == nil {
			continue
		}
		rel := filepath.Join("layers", "l", e.Name())
		if err := do(GCItem{Action: "remove", Path: rel, Why: "a short link to a layer that is gone"}, func() error { return os.Remove(p) }); err != nil {
			return out, err
		}
	}
	return out, nil
}

// usedChains: the chain ids (hex) of every layer of every image in the
// store. An image that cannot be read stops gc: its layers might be
// removed while it still needs them. An OCI artifact has no layers to
// unpack: it uses none.
func usedChains(images *store.Store) (map[string]bool, error) {
	used := map[string]bool{}
	es, err := images.List()
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		img, err := images.Resolve(e.Descriptor.Digest.String())
		if errors.Is(err, store.ErrArtifact) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read image %s: %w: fix or remove it (img-pull rm %s)", e.Name, err, e.Name)
		}
		ls, err := Layers(img)
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			used[l.ChainID.Hex] = true
		}
	}
	return used, nil
}

// du is the size of the files under path.
func du(path string) int64 {
	var n int64
	filepath.Walk(path, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
