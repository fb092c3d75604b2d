package store

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storeImage writes a one-layer image named demo and returns the store
// and the image's manifest descriptor.
func storeImage(t *testing.T) (*Store, v1.Descriptor) {
	t.Helper()
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	layer, _ := st.PutBytes(types.OCILayer, []byte("not really a tar"))
	cfg, _ := st.PutBytes(types.OCIConfigJSON, []byte(`{"os":"linux","architecture":"amd64","config":{"Cmd":["/bin/sh"]},"rootfs":{"type":"layers","diff_ids":["`+layer.Digest.String()+`"]}}`))
	raw, _ := json.Marshal(v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfg, Layers: []v1.Descriptor{layer}})
	m, err := st.PutBytes(types.OCIManifestSchema1, raw)
	if err != nil {
		t.Fatal(err)
	}
	m.Annotations = map[string]string{RegistryDigestAnnotation: "sha256:" + strings.Repeat("ab", 32)}
	if err := st.Tag("docker.io/library/demo:1", m); err != nil {
		t.Fatal(err)
	}
	return st, m
}

func TestResolveVerifies(t *testing.T) {
	st, m := storeImage(t)
	if _, err := st.Resolve("demo:1"); err != nil {
		t.Fatalf("Resolve(demo:1) = %v", err)
	}
	for _, ref := range []string{"sha256:abababababab", "demo@sha256:" + strings.Repeat("ab", 32), m.Digest.String()} {
		if e, err := st.Find(ref); err != nil || e.Descriptor.Digest != m.Digest {
			t.Errorf("Find(%q) = %v, %v; want %s", ref, e.Descriptor.Digest, err, m.Digest)
		}
	}
	img, _ := st.Resolve("demo:1")
	// The config edited in place: same name, other bytes.
	path := st.BlobPath(img.Manifest.Config.Digest)
	os.WriteFile(path, []byte(strings.Replace(string(img.RawConfig), "/bin/sh", "/bin/ls", 1)), 0o644)
	var ce *CorruptError
	if _, err := st.Resolve("demo:1"); !errors.As(err, &ce) || !strings.Contains(err.Error(), "config of docker.io/library/demo:1") {
		t.Errorf("Resolve after editing the config = %v, want a CorruptError about the config", err)
	}
	if _, problems, _ := st.Verify(""); len(problems) != 1 {
		t.Errorf("Verify found %v, want one problem", problems)
	}
}

func TestOpenRefusesMissingLayout(t *testing.T) {
	st, _ := storeImage(t)
	os.Remove(filepath.Join(st.Dir, "oci-layout"))
	if _, err := Open(st.Root); err == nil || !strings.Contains(err.Error(), "oci-layout") {
		t.Errorf("Open without oci-layout = %v, want an error naming it", err)
	}
	if _, err := os.Stat(filepath.Join(st.Dir, "oci-layout")); err == nil {
		t.Error("Open recreated oci-layout")
	}
}

func TestIngestResumesAndLocks(t *testing.T) {
	st, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("0123456789abcdef")
	d, _, _ := v1.SHA256(strings.NewReader(string(data)))
	w, err := st.Ingest(context.Background(), d, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data[:6])
	// A second writer waits for the first.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := st.Ingest(ctx, d, int64(len(data))); err == nil {
		t.Fatal("a second Ingest of the same blob did not wait")
	}
	w.Close()
	w, err = st.Ingest(context.Background(), d, int64(len(data)))
	if err != nil || w.Offset != 6 {
		t.Fatalf("Ingest after a partial write = offset %v, %v; want 6", w, err)
	}
	w.Write(data[6:])
	if err := w.Commit(); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	w.Close()
	if !st.HasBlob(d, int64(len(data))) {
		t.Error("the blob is not stored after Commit")
	}
	if w, _ = st.Ingest(context.Background(), d, int64(len(data))); !w.Stored {
		t.Error("Ingest of a stored blob did not say so")
	}
	w.Close()
}
