package build

import (
	"encoding/json"

	"ctrkit/internal/spec"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// write stores the stage's config and manifest, and returns the manifest's
// descriptor.
func (b *builder) write(s *stage) (v1.Descriptor, error) {
	cfg := s.cfg.DeepCopy()
	cfg.Created = v1.Time{Time: s.created}
	if cfg.OS == "" {
		cfg.OS = "linux"
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return v1.Descriptor{}, err
	}
	cfgType := types.OCIConfigJSON
	if s.manType == types.DockerManifestSchema2 {
		cfgType = types.DockerConfigJSON
	}
	cd, err := b.images.PutBytes(cfgType, raw)
	if err != nil {
		return v1.Descriptor{}, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: s.manType, Config: cd, Layers: []v1.Descriptor{}}
	for _, l := range s.layers {
		m.Layers = append(m.Layers, l.Desc)
	}
	rawM, err := json.Marshal(m)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, err := b.images.PutBytes(s.manType, rawM)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d.Platform = &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	return d, nil
}

// TempTagPrefix starts the names of a build's temporary images; img-pull gc
// removes those of killed builds (store.StaleBuildTags).
const TempTagPrefix = store.BuildTagPrefix

// tempImage writes s and tags it localhost/ctrkit-build:ID, so fs-layer
// can mount it; untag removes the name. The name is recorded in the
// build's lease (ROOT/leases) before it is tagged: when the build is
// killed, img-pull gc finds the lease's process gone and removes the name.
func (b *builder) tempImage(s *stage) (string, error) {
	d, err := b.write(s)
	if err != nil {
		return "", err
	}
	name := TempTagPrefix + spec.NewID()
	if b.lease != nil {
		if err := b.lease.Add("tag:" + name); err != nil {
			return "", err
		}
	}
	if err := b.images.Tag(name, d); err != nil {
		return "", err
	}
	b.opt.Log.Note("the image so far is %s, tagged %s for fs-layer to mount", d.Digest, name)
	return name, nil
}

func (b *builder) untag(name string) { b.images.Remove(name) }
