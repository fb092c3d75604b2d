package layer

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// putImage stores an image made of the given layer tars (bottom first)
// under name, the way img-pull does.
func putImage(t *testing.T, st *store.Store, name string, tars ...[]byte) *store.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, tb := range tars {
		tb := tb
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(tb)), nil },
			tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	ls, _ := img.Layers()
	for _, l := range ls {
		d, _ := l.Digest()
		size, _ := l.Size()
		rc, _ := l.Compressed()
		if err := st.PutBlob(d, size, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	rawCfg, _ := img.RawConfigFile()
	if _, err := st.PutBytes(types.OCIConfigJSON, rawCfg); err != nil {
		t.Fatal(err)
	}
	rawMan, _ := img.RawManifest()
	desc, err := st.PutBytes(types.OCIManifestSchema1, rawMan)
	if err != nil {
		t.Fatal(err)
	}
	full, _ := store.Normalize(name)
	if err := st.Tag(full, desc); err != nil {
		t.Fatal(err)
	}
	out, err := st.Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func layerDirs(t *testing.T, s *Store) []string {
	ents, _ := os.ReadDir(s.Dir)
	var out []string
	for _, e := range ents {
		if e.Name() != "l" && e.Name() != "tmp" {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestEnsureSharesLayers(t *testing.T) {
	root := t.TempDir()
	images, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	base := mkTar(t, file("etc/os-release", "base", 0o644))
	a := putImage(t, images, "a:1", base, mkTar(t, file("a", "a", 0o644)))
	b := putImage(t, images, "b:1", base, mkTar(t, file("b", "b", 0o644)))
	ls, err := OpenStore(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	la, err := ls.Ensure(images, a, Options{NoChown: true})
	if err != nil {
		t.Fatalf("Ensure(a) = %v", err)
	}
	lb, err := ls.Ensure(images, b, Options{NoChown: true})
	if err != nil {
		t.Fatalf("Ensure(b) = %v", err)
	}
	if la[0].ChainID != lb[0].ChainID {
		t.Errorf("base layer chain ids differ: %v and %v", la[0].ChainID, lb[0].ChainID)
	}
	if la[1].ChainID == lb[1].ChainID {
		t.Errorf("top layers have the same chain id")
	}
	if got := layerDirs(t, ls); len(got) != 3 {
		t.Errorf("layer store holds %d layers %v, want 3 (the base once)", len(got), got)
	}
	if b, err := os.ReadFile(filepath.Join(ls.Dir, Short(la[0].ChainID), "etc/os-release")); err != nil || string(b) != "base" {
		t.Errorf("short link %s/etc/os-release = %q, %v; want base", Short(la[0].ChainID), b, err)
	}
	if tmp, _ := os.ReadDir(ls.TmpDir()); len(tmp) != 0 {
		t.Errorf("tmp/ holds %d leftovers", len(tmp))
	}
}

func TestEnsureCorruptBlob(t *testing.T) {
	root := t.TempDir()
	images, _ := store.Open(root)
	img := putImage(t, images, "c:1", mkTar(t, file("a", strings.Repeat("data", 1000), 0o644)))
	// Flip the blob for one with valid gzip but different content.
	other := putImage(t, images, "d:1", mkTar(t, file("a", strings.Repeat("evil", 1000), 0o644)))
	data, _ := os.ReadFile(images.BlobPath(other.Manifest.Layers[0].Digest))
	if err := os.WriteFile(images.BlobPath(img.Manifest.Layers[0].Digest), data, 0o644); err != nil {
		t.Fatal(err)
	}
	ls, _ := OpenStore(root, nil)
	_, err := ls.Ensure(images, img, Options{NoChown: true})
	if err == nil || !strings.Contains(err.Error(), "diff id") {
		t.Fatalf("Ensure(corrupt) = %v, want a diff id mismatch", err)
	}
	if got := layerDirs(t, ls); len(got) != 0 {
		t.Errorf("layer store holds %v after a failed unpack, want nothing", got)
	}
	if tmp, _ := os.ReadDir(ls.TmpDir()); len(tmp) != 0 {
		t.Errorf("tmp/ holds %d leftovers after a failed unpack", len(tmp))
	}
	// Truncated: the gzip stream ends early.
	if err := os.WriteFile(images.BlobPath(img.Manifest.Layers[0].Digest), data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ls.Ensure(images, img, Options{NoChown: true}); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("Ensure(truncated) = %v, want corrupt or truncated", err)
	}
}

func TestEnsureUnsupportedMediaType(t *testing.T) {
	root := t.TempDir()
	images, _ := store.Open(root)
	img := putImage(t, images, "e:1", mkTar(t, file("a", "a", 0o644)))
	img.Manifest.Layers[0].MediaType = "application/vnd.example.squashfs"
	ls, _ := OpenStore(root, nil)
	if _, err := ls.Ensure(images, img, Options{NoChown: true}); err == nil || !strings.Contains(err.Error(), "unsupported media type") {
		t.Errorf("Ensure(squashfs layer) = %v, want unsupported media type", err)
	}
}

func TestChainIDsOfImage(t *testing.T) {
	root := t.TempDir()
	images, _ := store.Open(root)
	one := mkTar(t, file("a", "a", 0o644))
	img := putImage(t, images, "f:1", one)
	ls, err := Layers(img)
	if err != nil {
		t.Fatal(err)
	}
	if ls[0].ChainID != digest(one) || ls[0].DiffID != (v1.Hash{Algorithm: "sha256", Hex: digest(one).Hex}) {
		t.Errorf("Layers(f:1)[0] = chain %v diff %v, want both %v", ls[0].ChainID, ls[0].DiffID, digest(one))
	}
}
