package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/lease"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Store is the layer store: every layer ever unpacked, once, by chain id.
//
//	ROOT/layers/<chain id hex>/diff/        the layer's files, overlay-ready (a lowerdir)
//	ROOT/layers/<chain id hex>/layer.json   diff id, chain id, parent, blob digest, counts
//	ROOT/layers/l/<first 12 hex>            symlink to ../<chain id hex>/diff (short lowerdir names)
//	ROOT/layers/tmp/<12 hex>.<lease>        layers being unpacked (never mounted)
//	ROOT/leases/<lease>.json                what an fs-layer is unpacking (see gc.go)
//
// # Why chain ids and not diff ids
//
// A layer's diff id is the sha256 of its uncompressed tar. Its chain id
// also covers every layer below it:
//
//	chain(L1) = diff(L1)
//	chain(Ln) = sha256(chain(Ln-1) + " " + diff(Ln))
//
// Two images that start with the same layers get the same chain ids for
// those layers, so they share the directories, and a layer directory is
// only ever stacked on the layers it was made on top of (Docker's
// overlay2 and containerd's snapshotter key layers the same way).
type Store struct {
	Dir string // ROOT/layers
	Log *explain.Log
}

// Layer is one layer of an image, as stored.
type Layer struct {
	Index     int         `json:"index"` // 1 is the bottom layer
	DiffID    v1.Hash     `json:"diffID"`
	ChainID   v1.Hash     `json:"chainID"`
	Parent    string      `json:"parent,omitempty"` // chain id below, "" for the bottom
	Digest    v1.Hash     `json:"digest"`           // the compressed blob in the image store
	MediaType string      `json:"mediaType"`
	Size      int64       `json:"size"` // compressed
	Stats     *Stats      `json:"stats,omitempty"`
	Unpacked  time.Time   `json:"unpacked"`
	History   *v1.History `json:"-"`
}

// OpenStore returns the layer store under the ctrkit root.
func OpenStore(root string, log *explain.Log) (*Store, error) {
	s := &Store{Dir: filepath.Join(root, "layers"), Log: log}
	if err := store.EnsurePrivate(root, "layers"); err != nil {
		return nil, fmt.Errorf("create layer store: %w", err)
	}
	for _, d := range []string{s.Dir, filepath.Join(s.Dir, "l"), filepath.Join(s.Dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create layer store: %w", err)
		}
	}
	return s, nil
}

// ChainIDs computes the chain id of each layer from the diff ids, bottom
// layer first (OCI image-spec config.md, "Layer ChainID").
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1].String() + " " + d.String()))
		out[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return out
}

// DiffDir is the unpacked layer: a directory overlayfs can use as a lowerdir.
func (s *Store) DiffDir(chain v1.Hash) string { return filepath.Join(s.Dir, chain.Hex, "diff") }

// Short is the layer's short name under ROOT/layers/l/, see Lowerdir.
func Short(chain v1.Hash) string { return "l/" + chain.Hex[:12] }

// Has reports whether the layer is unpacked.
func (s *Store) Has(chain v1.Hash) bool {
	_, err := os.Stat(filepath.Join(s.Dir, chain.Hex, "layer.json"))
	return err == nil
}

// Layers lists the layers of img, bottom first, with their chain ids.
func Layers(img *store.Image) ([]Layer, error) {
	diffs := img.Config.RootFS.DiffIDs
	if len(diffs) != len(img.Manifest.Layers) {
		return nil, fmt.Errorf("image %s: the manifest has %d layers but the config lists %d diff ids", img.Name, len(img.Manifest.Layers), len(diffs))
	}
	chains := ChainIDs(diffs)
	var hist []v1.History
	for _, h := range img.Config.History {
		if !h.EmptyLayer {
			hist = append(hist, h)
		}
	}
	ls := make([]Layer, len(diffs))
	for i, d := range img.Manifest.Layers {
		ls[i] = Layer{Index: i + 1, DiffID: diffs[i], ChainID: chains[i], Digest: d.Digest, MediaType: string(d.MediaType), Size: d.Size}
		if i > 0 {
			ls[i].Parent = chains[i-1].String()
		}
		if i < len(hist) {
			ls[i].History = &hist[i]
		}
	}
	return ls, nil
}

// supported reports whether a layer media type is a tar (compressed or not).
func supported(mt string) bool {
	return mt == "" || (strings.Contains(mt, "layer") || strings.Contains(mt, "rootfs")) && strings.Contains(mt, "tar")
}

// Ensure unpacks every layer of img that is not in the store yet, several
// at once (each into its own directory, so they do not wait for each
// other), and returns all the layers, bottom first.
func (s *Store) Ensure(images *store.Store, img *store.Image, opt Options) ([]Layer, error) {
	ls, err := Layers(img)
	if err != nil {
		return nil, err
	}
	// The lease names every layer this image needs and, before each is
	// made, its temporary directory: a gc running meanwhile keeps them,
	// and a gc after a kill finds the half-unpacked ones.
	lease, err := s.takeLease(ls)
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	var wg sync.WaitGroup
	errs := make([]error, len(ls))
	sem := make(chan struct{}, max(2, runtime.NumCPU()))
	for i := range ls {
		if s.Has(ls[i].ChainID) {
			s.Log.Note("layer %d %s already unpacked in %s", ls[i].Index, ls[i].DiffID, s.DiffDir(ls[i].ChainID))
			continue
		}
		if !supported(ls[i].MediaType) {
			return nil, fmt.Errorf("layer %d (%s): unsupported media type %q (a layer must be a tar, plain, gzip or zstd)", ls[i].Index, ls[i].Digest, ls[i].MediaType)
		}
		wg.Add(1)
		go func(l *Layer) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[l.Index-1] = s.unpack(images, l, opt, lease)
		}(&ls[i])
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ls, nil
}

// unpack writes one layer into tmp/, then renames it into place: the store
// holds either a complete, verified layer or none.
func (s *Store) unpack(images *store.Store, l *Layer, opt Options, lease *lease.Lease) error {
	blob := images.BlobPath(l.Digest)
	f, err := os.Open(blob)
	if err != nil {
		return fmt.Errorf("layer %d: %w (the image store is missing a blob: pull the image again)", l.Index, err)
	}
	defer f.Close()
	rel := filepath.Join("layers", "tmp", l.ChainID.Hex[:12]+"."+lease.ID)
	if err := lease.Add(rel); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(s.Dir), rel)
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("layer %d: %w", l.Index, err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return err
	}
	opt.DiffID = l.DiffID
	start := time.Now()
	s.Log.Step(fmt.Sprintf("unpack %s → %s", blob, diff), "mkdir -p "+explain.Quote(diff)+" && tar -xpf "+explain.Quote(blob)+" -C "+explain.Quote(diff)+" --xattrs --xattrs-include='*'")
	st, err := Apply(diff, f, opt)
	if err != nil {
		return fmt.Errorf("layer %d (%s): %w (nothing was stored)", l.Index, l.Digest, err)
	}
	s.Log.Note("layer %d: %d entries, %d whiteouts, %d opaque dirs, %d bytes of tar, diff id %s verified, in %s",
		l.Index, st.Entries, st.Whiteouts, st.Opaques, st.Bytes, l.DiffID, time.Since(start).Round(time.Millisecond))
	l.Stats = &st
	l.Unpacked = time.Now().UTC()
	meta, _ := json.MarshalIndent(l, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "layer.json"), append(meta, '\n'), 0o644); err != nil {
		return err
	}
	final := filepath.Join(s.Dir, l.ChainID.Hex)
	s.Log.Step(fmt.Sprintf("rename(%q, %q)", tmp, final), "mv "+explain.Quote(tmp)+" "+explain.Quote(final))
	if err := os.Rename(tmp, final); err != nil {
		if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			s.Log.Note("layer %d was unpacked meanwhile by another fs-layer: keeping that one", l.Index)
		} else {
			return fmt.Errorf("layer %d: %w", l.Index, err)
		}
	}
	link := filepath.Join(s.Dir, Short(l.ChainID))
	// The short name keeps overlay's mount options under a page (overlay.go).
	if err := os.Symlink("../"+l.ChainID.Hex+"/diff", link); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("layer %d: %w", l.Index, err)
	} else if err == nil {
		s.Log.Step(fmt.Sprintf("symlink(%q, %q)", "../"+l.ChainID.Hex+"/diff", link), "ln -s "+explain.Quote("../"+l.ChainID.Hex+"/diff")+" "+explain.Quote(link))
	}
	return nil
}

// ReadLayer reads layer.json of an unpacked layer.
func (s *Store) ReadLayer(chain v1.Hash) (*Layer, error) {
	data, err := os.ReadFile(filepath.Join(s.Dir, chain.Hex, "layer.json"))
	if err != nil {
		return nil, err
	}
	var l Layer
	return &l, json.Unmarshal(data, &l)
}

// Open opens a blob for reading; a helper for callers that unpack by hand.
func Open(images *store.Store, d v1.Hash) (io.ReadCloser, error) { return os.Open(images.BlobPath(d)) }
