package layer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// CommitResult describes the image Commit stored.
type CommitResult struct {
	Name     string
	Manifest v1.Descriptor
	Layer    v1.Descriptor
	DiffID   v1.Hash
	Stats    DiffStats
}

// Commit turns upper into a new layer on top of base and stores the result
// as image name (a full name, see store.Normalize), like `docker commit`:
// the layer tar is gzip-compressed into a blob, the config gets the layer's
// diff id and a history line, the manifest gets the layer, and the name is
// written to index.json last, so a reader never sees half an image.
func Commit(images *store.Store, base *store.Image, upper, tmpDir, name, createdBy string) (*CommitResult, error) {
	release, err := images.Writing()
	if err != nil {
		return nil, err
	}
	defer release()
	f, err := os.CreateTemp(tmpDir, "commit-*.tar.gz")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	diffHash, blobHash := sha256.New(), sha256.New()
	zw, _ := gzip.NewWriterLevel(io.MultiWriter(f, blobHash), gzip.BestSpeed)
	st, err := Diff(upper, io.MultiWriter(zw, diffHash))
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", upper, err)
	}
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	res := &CommitResult{Name: name, Stats: st,
		DiffID: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diffHash.Sum(nil))}}
	layerType := types.OCILayer
	if base.Manifest.MediaType == types.DockerManifestSchema2 {
		layerType = types.DockerLayer
	}
	res.Layer = v1.Descriptor{MediaType: layerType, Size: size,
		Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(blobHash.Sum(nil))}}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if err := images.PutBlob(res.Layer.Digest, size, f); err != nil {
		return nil, err
	}

	now := time.Now().UTC().Truncate(time.Second)
	cfg := base.Config.DeepCopy()
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, res.DiffID)
	cfg.History = append(cfg.History, v1.History{Created: v1.Time{Time: now}, CreatedBy: createdBy})
	cfg.Created = v1.Time{Time: now}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgType := base.Manifest.Config.MediaType
	if cfgType == "" {
		cfgType = types.OCIConfigJSON
	}
	cfgDesc, err := images.PutBytes(cfgType, rawCfg)
	if err != nil {
		return nil, err
	}
	m := *base.Manifest
	m.Config = cfgDesc
	m.Layers = append(append([]v1.Descriptor{}, base.Manifest.Layers...), res.Layer)
	rawMan, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	desc, err := images.PutBytes(mt, rawMan)
	if err != nil {
		return nil, err
	}
	desc.Platform = &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	if err := images.Tag(name, desc); err != nil {
		return nil, err
	}
	res.Manifest = desc
	return res, nil
}

// TmpDir is where Commit and others may write temporary files.
func (s *Store) TmpDir() string { return filepath.Join(s.Dir, "tmp") }
