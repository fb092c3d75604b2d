package pull

// Images with unusual shapes: uncompressed and zstd layers, no layers at
// all, nested manifest lists, and manifests or layers of media types
// ctrkit does not know, which must be refused with a reason.

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"ctrkit/internal/store"

	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// tarBytes is an uncompressed tar holding files.
func tarBytes(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// compressedLayer is a layer of the tar compressed with comp (gzip, zstd).
func compressedLayer(t *testing.T, tb []byte, comp compression.Compression, mt types.MediaType) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil },
		tarball.WithCompression(comp), tarball.WithMediaType(mt))
	if err != nil {
		t.Fatal(err)
	}
	// Make sure the blob really is what the case says it is.
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(rc, magic); err != nil {
		t.Fatal(err)
	}
	want := map[compression.Compression][]byte{compression.GZip: {0x1f, 0x8b}, compression.ZStd: {0x28, 0xb5, 0x2f, 0xfd}}[comp]
	if !bytes.HasPrefix(magic, want) {
		t.Fatalf("layer compressed with %s starts with % x, want % x", comp, magic, want)
	}
	return l
}

// imageOf builds an image of the given manifest media type from layers,
// with a config for the host's platform.
func imageOf(t *testing.T, manifest types.MediaType, layers ...v1.Layer) v1.Image {
	t.Helper()
	host, err := parsePlatform("")
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, manifest)
	if manifest == types.OCIManifestSchema1 {
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		OS: host.OS, Architecture: host.Architecture, Variant: host.Variant,
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{Cmd: []string{"/bin/true"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPullLayerShapes(t *testing.T) {
	host := serve(t, nil)
	tb := tarBytes(t, map[string]string{"etc/hostname": "box\n", "bin/hello": "#!/bin/sh\necho hi\n"})
	other := tarBytes(t, map[string]string{"etc/motd": "welcome\n"})
	for _, tc := range []struct {
		name     string
		manifest types.MediaType
		layers   []v1.Layer
	}{
		{"oci-tar", types.OCIManifestSchema1, []v1.Layer{static.NewLayer(tb, types.OCIUncompressedLayer)}},
		{"docker-tar", types.DockerManifestSchema2, []v1.Layer{static.NewLayer(tb, types.DockerUncompressedLayer)}},
		{"oci-zstd", types.OCIManifestSchema1, []v1.Layer{compressedLayer(t, tb, compression.ZStd, types.OCILayerZStd)}},
		{"mixed", types.OCIManifestSchema1, []v1.Layer{
			compressedLayer(t, tb, compression.GZip, types.OCILayer),
			static.NewLayer(other, types.OCIUncompressedLayer),
			compressedLayer(t, other, compression.ZStd, types.OCILayerZStd),
		}},
		{"no-layers-oci", types.OCIManifestSchema1, nil},
		{"no-layers-docker", types.DockerManifestSchema2, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := host + "/shapes/" + tc.name + ":1"
			img := imageOf(t, tc.manifest, tc.layers...)
			want := push(t, ref, img)
			st := newStore(t)
			res, err := Pull(context.Background(), st, ref, Options{})
			if err != nil {
				t.Fatalf("Pull(%q) = %v, want success", ref, err)
			}
			if res.Registry != want || res.Manifest.MediaType != types.OCIManifestSchema1 {
				t.Errorf("Pull(%q) = %s (%s), want %s (stored as %s)", ref, res.Registry, res.Manifest.MediaType, want, types.OCIManifestSchema1)
			}
			if n := 1 + len(tc.layers); res.Downloaded != n {
				t.Errorf("Pull(%q) downloaded %d blobs, want %d (config and layers)", ref, res.Downloaded, n)
			}
			if len(res.Config.RootFS.DiffIDs) != len(tc.layers) {
				t.Errorf("Pull(%q) config has %d diff_ids, want %d", ref, len(res.Config.RootFS.DiffIDs), len(tc.layers))
			}
			// Every layer is stored byte for byte as the registry has it,
			// under its own digest: never recompressed.
			for i, l := range tc.layers {
				d, _ := l.Digest()
				rc, err := l.Compressed()
				if err != nil {
					t.Fatal(err)
				}
				wantBytes, _ := io.ReadAll(rc)
				rc.Close()
				got, err := st.ReadBlob(d)
				if err != nil || !bytes.Equal(got, wantBytes) {
					t.Errorf("Pull(%q) layer %d: blob %s = %d bytes, %v; want the %d bytes pushed", ref, i, d, len(got), err, len(wantBytes))
				}
				mt, _ := l.MediaType()
				if mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer {
					if diff, _ := l.DiffID(); diff != d || res.Config.RootFS.DiffIDs[i] != d {
						t.Errorf("Pull(%q) uncompressed layer %d: digest %s, diff_id %s; want them equal", ref, i, d, res.Config.RootFS.DiffIDs[i])
					}
				}
			}
			checkStoredAnyLayers(t, st, ref, want)
		})
	}
}

// checkStoredAnyLayers is checkStored for layers that are not gzip, which
// validate.Image cannot read: the layout is validated without the layer
// bytes, then each layer is read back through go-containerregistry's
// layout reader, which decompresses gzip and zstd and passes plain tar
// through, and must hash to its diff_id.
func checkStoredAnyLayers(t *testing.T, st *store.Store, full string, want v1.Hash) {
	t.Helper()
	img := storedImage(t, st, full, want)
	if err := validate.Image(img, validate.Fast); err != nil {
		t.Errorf("validate.Image(%s, Fast) = %v", full, err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range layers {
		diff, _ := l.DiffID()
		rc, err := l.Uncompressed()
		if err != nil {
			t.Errorf("%s layer %d: Uncompressed() = %v", full, i, err)
			continue
		}
		got, _, err := v1.SHA256(rc)
		rc.Close()
		if err != nil || got != diff {
			t.Errorf("%s layer %d: sha256 of the unpacked tar = %s, %v; want the diff_id %s", full, i, got, err, diff)
		}
	}
}

// nest wraps child in n manifest lists, the outer n-1 pointing at the next
// one with or without a platform on the descriptor. The innermost list
// also has an image for another platform next to the host's.
func nest(t *testing.T, child v1.Image, n int, platformOnLists bool) v1.ImageIndex {
	t.Helper()
	host, err := parsePlatform("")
	if err != nil {
		t.Fatal(err)
	}
	foreign := v1.Platform{OS: "linux", Architecture: "s390x"}
	if host.Architecture == "s390x" {
		foreign.Architecture = "ppc64le"
	}
	var idx v1.ImageIndex = mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.AppendManifests(idx,
		mutate.IndexAddendum{Add: randomImage(t, 128, 1), Descriptor: v1.Descriptor{Platform: &foreign}},
		mutate.IndexAddendum{Add: child, Descriptor: v1.Descriptor{Platform: &host}})
	for i := 1; i < n; i++ {
		var d v1.Descriptor
		if platformOnLists {
			d.Platform = &host
		}
		outer := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
		// An image for another platform beside the nested list, so that
		// the choice at each level is a real one.
		outer = mutate.AppendManifests(outer,
			mutate.IndexAddendum{Add: randomImage(t, 64, 1), Descriptor: v1.Descriptor{Platform: &foreign}},
			mutate.IndexAddendum{Add: idx, Descriptor: d})
		idx = outer
	}
	return idx
}

func TestPullNestedIndex(t *testing.T) {
	host := serve(t, nil)
	img := imageOf(t, types.OCIManifestSchema1, static.NewLayer(tarBytes(t, map[string]string{"a": "b"}), types.OCIUncompressedLayer))
	want, _ := img.Digest()
	for _, tc := range []struct {
		name      string
		depth     int
		platforms bool   // the nested lists' descriptors carry a platform
		platform  string // --platform; empty for the host's
		err       string // empty: the pull succeeds
	}{
		{"one", 1, false, "", ""},
		{"two-platform", 2, true, "", ""},
		{"two-no-platform", 2, false, "", ""},
		{"four", 4, false, "", ""},
		{"five", 5, true, "", "manifest lists nested more than 4 deep, refusing"},
		{"five-no-platform", 5, false, "", "manifest lists nested more than 4 deep, refusing"},
		{"two-no-platform-absent", 2, false, "linux/riscv64", "no manifest for platform linux/riscv64 in the manifest list (it has linux/s390x, linux/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := host + "/nested/" + tc.name + ":1"
			r, _ := name.ParseReference(ref)
			if err := remote.WriteIndex(r, nest(t, img, tc.depth, tc.platforms)); err != nil {
				t.Fatal(err)
			}
			st := newStore(t)
			res, err := Pull(context.Background(), st, ref, Options{Platform: tc.platform})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("Pull(%q) = %v, want an error containing %q", ref, err, tc.err)
				}
				if es, _ := st.List(); len(es) != 0 {
					t.Errorf("Pull(%q) left %v in index.json", ref, es)
				}
				return
			}
			if err != nil {
				t.Fatalf("Pull(%q) = %v, want %s", ref, err, want)
			}
			if res.Registry != want || res.List == nil {
				t.Errorf("Pull(%q) = %s (list %v), want %s from a list", ref, res.Manifest.Digest, res.List, want)
			}
			checkStoredAnyLayers(t, st, ref, want)
		})
	}
}

// raw is a manifest of any media type, pushed as is.
type raw struct {
	mt   types.MediaType
	body string
}

func (r raw) RawManifest() ([]byte, error)        { return []byte(r.body), nil }
func (r raw) MediaType() (types.MediaType, error) { return r.mt, nil }

func TestPullRefusesUnknownShapes(t *testing.T) {
	host := serve(t, nil)
	st := newStore(t)

	// An OCI artifact: an image manifest whose "layer" is a Helm chart.
	chart := static.NewLayer([]byte("not a tar"), "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
	helm := imageOf(t, types.OCIManifestSchema1, chart)
	chartDigest, _ := chart.Digest()
	push(t, host+"/odd/helm:1", helm)
	// A layer compressed with something nobody unpacks.
	bz := static.NewLayer([]byte("BZh91AY&SY"), "application/vnd.oci.image.layer.v1.tar+bzip2")
	push(t, host+"/odd/bzip2:1", imageOf(t, types.OCIManifestSchema1, bz))
	// Docker's "foreign" layers are not in the registry at all; this one
	// has no URL to get it from either.
	foreign := static.NewLayer([]byte("x"), types.DockerForeignLayer)
	push(t, host+"/odd/foreign:1", imageOf(t, types.DockerManifestSchema2, foreign))

	for _, tc := range []struct {
		tag string
		m   raw
	}{
		{"unknown-type", raw{"application/vnd.example.thing.v1+json", `{"schemaVersion":2,"mediaType":"application/vnd.example.thing.v1+json"}`}},
		{"unknown-content-type", raw{"application/vnd.example.thing.v1+json", `{"schemaVersion":2}`}},
		{"schema1", raw{types.DockerManifestSchema1, `{"schemaVersion":1,"name":"odd","tag":"schema1","fsLayers":[],"history":[]}`}},
	} {
		r, _ := name.ParseReference(host + "/odd/manifest:" + tc.tag)
		if err := remote.Put(r, tc.m); err != nil {
			t.Fatalf("push %s: %v", r, err)
		}
	}

	for _, tc := range []struct{ ref, want string }{
		{host + "/odd/helm:1", `layer ` + chartDigest.String() + ` has unsupported media type "application/vnd.cncf.helm.chart.content.v1.tar+gzip"`},
		{host + "/odd/bzip2:1", `unsupported media type "application/vnd.oci.image.layer.v1.tar+bzip2" (ctrkit unpacks tar, tar+gzip and tar+zstd layers)`},
		{host + "/odd/foreign:1", `not found in http://` + host + `/odd/foreign (404)`},
		{host + "/odd/manifest:unknown-type", `unsupported manifest media type "application/vnd.example.thing.v1+json"`},
		{host + "/odd/manifest:unknown-content-type", `unsupported manifest media type "application/vnd.example.thing.v1+json"`},
		{host + "/odd/manifest:schema1", "Docker schema 1, deprecated since 2017 and not supported"},
	} {
		res, err := Pull(context.Background(), st, tc.ref, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Pull(%q) = %v, %v; want an error containing %q", tc.ref, res, err, tc.want)
		}
	}
	// Refused before any download: nothing tagged, no blob stored.
	if es, _ := st.List(); len(es) != 0 {
		t.Errorf("index.json has %v after refused pulls, want nothing", es)
	}
	if st.HasBlob(chartDigest, 9) {
		t.Errorf("the Helm chart blob %s was downloaded before the refusal", chartDigest)
	}
}
