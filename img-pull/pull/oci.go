package pull

// # Docker schema 2 → OCI
//
// Most images on Docker Hub are Docker "schema 2" manifests: the same
// structure as an OCI manifest, with Docker's media types
// (application/vnd.docker.distribution.manifest.v2+json,
// …container.image.v1+json, …image.rootfs.diff.tar.gzip). An OCI image
// layout must hold OCI media types, or oci-image-tool, umoci and skopeo's
// oci: transport refuse it, so ctrkit stores such a manifest converted, as
// `skopeo copy docker://… oci:…` does: only the media types change; the
// config and the layers keep their bytes and digests. The manifest's bytes
// change, and with them its digest: the registry's digest is recorded in
// index.json (annotation ctrkit.image.registry.digest), so NAME@sha256:…
// with the registry's digest still finds the image, and `img-pull inspect`
// shows both.

import (
	"encoding/json"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ociTypes maps Docker media types to their OCI equivalents.
var ociTypes = map[types.MediaType]types.MediaType{
	types.DockerManifestSchema2:   types.OCIManifestSchema1,
	types.DockerConfigJSON:        types.OCIConfigJSON,
	types.DockerLayer:             types.OCILayer,
	types.DockerUncompressedLayer: types.OCIUncompressedLayer,
	types.DockerForeignLayer:      types.OCIRestrictedLayer, // non-distributable, tar+gzip
}

// toOCI returns the manifest m with OCI media types.
func toOCI(m *v1.Manifest) ([]byte, error) {
	c := *m
	c.MediaType = types.OCIManifestSchema1
	conv := func(d v1.Descriptor) v1.Descriptor {
		if t, ok := ociTypes[d.MediaType]; ok {
			d.MediaType = t
		}
		return d
	}
	c.Config = conv(m.Config)
	c.Layers = make([]v1.Descriptor, len(m.Layers))
	for i, l := range m.Layers {
		c.Layers[i] = conv(l)
	}
	return json.Marshal(&c)
}
