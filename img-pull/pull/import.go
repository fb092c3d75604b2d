package pull

import (
	"compress/gzip"
	"fmt"
	"runtime"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ImportOptions tune Import.
type ImportOptions struct {
	Cmd []string // the image's CMD, e.g. ["/bin/sh"]; none when empty
	Env []string // the image's ENV, KEY=VALUE
	Log *explain.Log
}

// Import makes an image from root filesystem tarballs, one layer each
// (the first is the bottom layer), like `docker import`, and stores it
// under ref. Each tar is gzip-compressed into an OCI layer; its digest
// names the compressed bytes, its diff_id (in the config) the tar itself.
func Import(st *store.Store, tars []string, ref string, opt ImportOptions) (*Result, error) {
	r, err := store.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	full := store.FullName(r)
	release, err := st.Writing()
	if err != nil {
		return nil, err
	}
	defer release()

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var layers []v1.Layer
	for _, path := range tars {
		l, err := tarball.LayerFromFile(path, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestSpeed))
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", path, err)
		}
		layers = append(layers, l)
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", runtime.GOARCH
	cfg.Created = v1.Time{Time: time.Now().UTC().Truncate(time.Second)}
	cfg.Config.Cmd = opt.Cmd
	cfg.Config.Env = opt.Env
	for i := range cfg.History {
		cfg.History[i].CreatedBy = "img-pull import " + tars[i]
		cfg.History[i].Created = cfg.Created
	}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, err
	}

	for i, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", tars[i], err)
		}
		size, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", tars[i], err)
		}
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", tars[i], err)
		}
		err = st.PutBlob(d, size, rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", tars[i], err)
		}
		opt.Log.Step(fmt.Sprintf("write blobs/sha256/%s (layer %d, %d bytes)", d.Hex, i+1, size), "gzip -c "+explain.Quote(tars[i])+" | sha256sum")
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	if _, err := st.PutBytes(types.OCIConfigJSON, rawCfg); err != nil {
		return nil, err
	}
	rawMan, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	desc, err := st.PutBytes(types.OCIManifestSchema1, rawMan)
	if err != nil {
		return nil, err
	}
	desc.Platform = &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture}
	if err := st.Tag(full, desc); err != nil {
		return nil, err
	}
	opt.Log.Step(fmt.Sprintf("rename index.json: %s=%s → %s", store.RefNameAnnotation, full, desc.Digest), "")
	return &Result{Name: full, Manifest: desc, Config: cfg, Downloaded: len(layers) + 2}, nil
}
