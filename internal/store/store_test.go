package store

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Only names are checked here: nothing contacts Docker Hub.
func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alpine", "docker.io/library/alpine:latest"},
		{"alpine:3.20", "docker.io/library/alpine:3.20"},
		{"library/alpine", "docker.io/library/alpine:latest"},
		{"docker.io/alpine", "docker.io/library/alpine:latest"},
		{"index.docker.io/library/alpine:3", "docker.io/library/alpine:3"},
		{"user/app:v1", "docker.io/user/app:v1"},
		{"ghcr.io/o/r:t", "ghcr.io/o/r:t"},
		{"localhost/demo", "localhost/demo:latest"},
		{"127.0.0.1:5000/demo", "127.0.0.1:5000/demo:latest"},
		{"alpine@sha256:" + strings.Repeat("0", 64), "docker.io/library/alpine@sha256:" + strings.Repeat("0", 64)},
	} {
		got, err := Normalize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "Alpine", "alpine:", "a b", "alpine@sha256:12"} {
		if got, err := Normalize(bad); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", bad, got)
		}
	}
}

func TestTagFindRemoveGC(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layer, _ := st.PutBytes(types.OCILayer, []byte("layer"))
	cfg, _ := st.PutBytes(types.OCIConfigJSON, []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`))
	man := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cfg.Digest.String() + `","size":` + itoa(cfg.Size) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` +
		layer.Digest.String() + `","size":` + itoa(layer.Size) + `}]}`
	m, err := st.PutBytes(types.OCIManifestSchema1, []byte(man))
	if err != nil {
		t.Fatal(err)
	}
	orphan, _ := st.PutBytes(types.OCILayer, []byte("nobody refers to me"))
	os.WriteFile(filepath.Join(st.tmpDir(), "leftover.123"), []byte("partial"), 0o600)

	if err := st.Tag("docker.io/library/demo:1", m); err != nil {
		t.Fatal(err)
	}
	if err := st.Tag("docker.io/library/demo:1", m); err != nil { // a re-tag replaces
		t.Fatal(err)
	}
	for _, ref := range []string{"demo:1", "docker.io/library/demo:1", m.Digest.String()[:19]} {
		img, err := st.Resolve(ref)
		if err != nil || img.Descriptor.Digest != m.Digest || len(img.Manifest.Layers) != 1 {
			t.Errorf("Resolve(%q) = %v, %v; want %s", ref, img, err, m.Digest)
		}
	}
	if es, _ := st.List(); len(es) != 1 {
		t.Errorf("List() = %v, want one image", es)
	}

	removed, _, err := st.GC()
	if err != nil || len(removed) != 1 || removed[0] != orphan.Digest {
		t.Errorf("GC() = %v, %v; want only %s removed", removed, err, orphan.Digest)
	}
	if ents, _ := os.ReadDir(st.tmpDir()); len(ents) != 0 {
		t.Errorf("GC() left %d temporary files", len(ents))
	}
	if _, err := st.Remove("demo:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Find("demo:1"); err == nil {
		t.Errorf("Find after Remove succeeded")
	}
	if removed, _, _ := st.GC(); len(removed) != 3 {
		t.Errorf("GC() after Remove removed %d blobs, want 3", len(removed))
	}
}

func TestPutBlobVerifies(t *testing.T) {
	st, _ := Open(t.TempDir())
	d, _ := st.PutBytes(types.OCILayer, []byte("hello"))
	os.Remove(st.BlobPath(d.Digest))
	for _, body := range []string{"hellO", "hello!", "hell"} {
		err := st.PutBlob(d.Digest, d.Size, strings.NewReader(body))
		if _, ok := err.(*MismatchError); !ok {
			t.Errorf("PutBlob(%q) = %v, want a MismatchError", body, err)
		}
		if st.HasBlob(d.Digest, d.Size) {
			t.Errorf("PutBlob(%q) stored a wrong blob", body)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
