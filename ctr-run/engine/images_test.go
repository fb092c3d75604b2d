package engine

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storeImage stores an image with no layers and config cfg under names,
// the way img-pull stores one, and returns its id (config digest).
func storeImage(t *testing.T, root string, cfg v1.Config, names ...string) string {
	t.Helper()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{Architecture: "amd64", OS: "linux", Created: v1.Time{Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)},
		Config: cfg, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	rawCfg, _ := img.RawConfigFile()
	cfgDesc, err := st.PutBytes(types.OCIConfigJSON, rawCfg)
	if err != nil {
		t.Fatal(err)
	}
	rawMan, _ := img.RawManifest()
	desc, err := st.PutBytes(types.OCIManifestSchema1, rawMan)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		full, _ := store.Normalize(n)
		if err := st.Tag(full, desc); err != nil {
			t.Fatal(err)
		}
	}
	return cfgDesc.Digest.String()
}

func TestImages(t *testing.T) {
	s := New(t.TempDir(), t.TempDir(), "ctr-run", false, &bytes.Buffer{})
	code, body := call(t, s, "GET", "/v1.43/images/json", "")
	if code != 200 || strings.TrimSpace(body) != "[]" {
		t.Errorf("GET /images/json of an empty store = %d %s, want []", code, body)
	}
	id := storeImage(t, s.Root, v1.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/bin"}, Labels: map[string]string{"k": "v"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}}}, "alpine:3", "example.com/team/alpine:3")
	other := storeImage(t, s.Root, v1.Config{Cmd: []string{"true"}}, "busybox")

	code, body = call(t, s, "GET", "/images/json", "")
	var list []imageSummary
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 2 {
		t.Fatalf("GET /images/json = %d %s, want two images", code, body)
	}
	for _, sum := range list {
		switch sum.ID {
		case id:
			if strings.Join(sum.RepoTags, " ") != "alpine:3 example.com/team/alpine:3" || sum.Labels["k"] != "v" || len(sum.RepoDigests) != 2 || !strings.HasPrefix(sum.RepoDigests[0], "alpine@sha256:") {
				t.Errorf("alpine's summary = %+v", sum)
			}
		case other:
			if strings.Join(sum.RepoTags, " ") != "busybox:latest" {
				t.Errorf("busybox's summary = %+v", sum)
			}
		default:
			t.Errorf("an image with id %s", sum.ID)
		}
	}

	for _, ref := range []string{"alpine:3", "example.com/team/alpine:3", id, strings.TrimPrefix(id, "sha256:")[:12]} {
		code, body = call(t, s, "GET", "/images/"+ref+"/json", "")
		var got map[string]any
		if code != 200 || json.Unmarshal([]byte(body), &got) != nil || got["Id"] != id || got["Os"] != "linux" {
			t.Errorf("GET /images/%s/json = %d %s", ref, code, body)
			continue
		}
		cfg := got["Config"].(map[string]any)
		if _, ok := cfg["ExposedPorts"].(map[string]any)["80/tcp"]; !ok || cfg["Cmd"].([]any)[0] != "sh" {
			t.Errorf("GET /images/%s/json's Config = %v", ref, cfg)
		}
	}
	if code, body = call(t, s, "GET", "/images/busybox/history", ""); code != 200 || !strings.Contains(body, other) {
		t.Errorf("GET /images/busybox/history = %d %s", code, body)
	}
	if code, body = call(t, s, "GET", "/images/nothing:here/json", ""); code != 404 || !strings.Contains(body, "no such image") {
		t.Errorf("GET /images/nothing:here/json = %d %s, want 404", code, body)
	}
	if code, _ = call(t, s, "GET", "/images/busybox/other", ""); code != 404 {
		t.Errorf("GET /images/busybox/other = %d, want 404", code)
	}
	if code, body = call(t, s, "GET", "/images/UPPER::x/json", ""); code != 400 {
		t.Errorf("GET /images/UPPER::x/json = %d %s, want 400 (invalid reference)", code, body)
	}
}
