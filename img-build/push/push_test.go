package push

import (
	"bytes"
	"net/http/httptest"
	"strings"
	"testing"

	"ctrkit/internal/store"

	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// putImage writes img into the store under name, as img-pull would.
func putImage(t *testing.T, images *store.Store, name string, img v1.Image) v1.Hash {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		d, _ := l.Digest()
		size, _ := l.Size()
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		err = images.PutBlob(d, size, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := img.RawConfigFile()
	if _, err := images.PutBytes(types.OCIConfigJSON, raw); err != nil {
		t.Fatal(err)
	}
	rawM, _ := img.RawManifest()
	mt, _ := img.MediaType()
	desc, err := images.PutBytes(mt, rawM)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.Tag(name, desc); err != nil {
		t.Fatal(err)
	}
	return desc.Digest
}

// TestPush: the first push uploads every blob, the second none (HEAD finds
// them), and the registry serves the same manifest digest.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	images, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := putImage(t, images, "docker.io/library/p:1", img)
	dest := host + "/ck/p:1"
	var out bytes.Buffer
	for i, uploaded := range []int{3, 0} {
		res, err := Push(images, "p:1", dest, Options{Out: &out})
		if err != nil {
			t.Fatalf("Push #%d: %v\n%s", i+1, err, out.String())
		}
		if res.Digest != want || res.Uploaded != uploaded || res.Skipped != 3-uploaded {
			t.Errorf("Push #%d = %s, %d uploaded, %d skipped; want %s, %d, %d", i+1, res.Digest, res.Uploaded, res.Skipped, want, uploaded, 3-uploaded)
		}
	}
	if !strings.Contains(out.String(), "already in "+host+"/ck/p, skipped") {
		t.Errorf("Push output does not say what it skipped:\n%s", out.String())
	}
	got, err := crane.Digest(dest)
	if err != nil || got != want.String() {
		t.Errorf("crane.Digest(%s) = %s, %v; want %s", dest, got, err, want)
	}
	if _, err := Push(images, "p:nope", dest, Options{Out: &out}); err == nil {
		t.Errorf("Push(p:nope) = nil error, want not found")
	}
	if _, err := Push(images, "p:1", "127.0.0.1:1/x:1", Options{Out: &out, Insecure: true}); err == nil || !strings.Contains(err.Error(), "is it running?") {
		t.Errorf("Push to a closed port = %v, want a hint that the registry is not running", err)
	}
}
