package pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifest bounds what we read as a manifest; real ones are a few KiB.
const maxManifest = 4 << 20

// layerTypes are the layer media types fs-layer can unpack.
var layerTypes = map[types.MediaType]bool{
	types.OCILayer:                       true,
	types.OCIUncompressedLayer:           true,
	types.OCILayerZStd:                   true,
	types.DockerLayer:                    true,
	types.DockerUncompressedLayer:        true,
	types.OCIRestrictedLayer:             true,
	types.OCIUncompressedRestrictedLayer: true,
	types.DockerForeignLayer:             true,
}

// fetchManifest GETs a manifest by tag or digest. When expect is set (a
// reference by digest), the bytes must hash to that digest.
func fetchManifest(ctx context.Context, reg *registry, id string, expect *v1.Descriptor, opt Options) (v1.Descriptor, []byte, error) {
	log := opt.Log
	var body []byte
	var contentType string
	err := withRetries(ctx, opt, func(n int, err error, wait time.Duration) {
		log.Note("manifest %s: attempt %d failed: %v; retrying in %s", id, n, err, wait.Round(time.Millisecond))
	}, func() error {
		resp, err := reg.get(ctx, "manifests", id, http.Header{"Accept": {strings.Join(manifestAccept, ", ")}})
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		contentType = resp.Header.Get("Content-Type")
		if body, err = io.ReadAll(io.LimitReader(resp.Body, maxManifest+1)); err != nil {
			return fmt.Errorf("read manifest %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return v1.Descriptor{}, nil, err
	}
	if len(body) > maxManifest {
		return v1.Descriptor{}, nil, fmt.Errorf("manifest %s is larger than %d bytes, refusing", id, maxManifest)
	}
	sum := sha256.Sum256(body)
	d := v1.Descriptor{
		MediaType: mediaType(contentType, body),
		Size:      int64(len(body)),
		Digest:    v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
	}
	if expect != nil && (d.Digest != expect.Digest || (expect.Size >= 0 && d.Size != expect.Size)) {
		return v1.Descriptor{}, nil, fmt.Errorf("manifest %s: digest mismatch: the bytes received hash to %s (%d bytes): the registry served the wrong content", expect.Digest, d.Digest, d.Size)
	}
	verified := ""
	if expect != nil {
		verified = ", digest verified"
	}
	log.Step(fmt.Sprintf("sha256(manifest) = %s (%s%s)", d.Digest, d.MediaType, verified), "sha256sum manifest.json")
	if d.MediaType == types.DockerManifestSchema1 || d.MediaType == types.DockerManifestSchema1Signed {
		return v1.Descriptor{}, nil, fmt.Errorf("manifest %s is Docker schema 1, deprecated since 2017 and not supported: re-push the image with a current docker or skopeo", id)
	}
	return d, body, nil
}

// mediaType is the manifest's own mediaType field when it has one, else
// the Content-Type the registry sent.
func mediaType(contentType string, body []byte) types.MediaType {
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
	}
	if json.Unmarshal(body, &probe) == nil && probe.MediaType != "" {
		return probe.MediaType
	}
	ct, _, _ := strings.Cut(contentType, ";")
	return types.MediaType(strings.TrimSpace(ct))
}
