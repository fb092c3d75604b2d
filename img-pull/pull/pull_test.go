package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"ctrkit/internal/imagespec"
	"ctrkit/internal/store"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// serve starts go-containerregistry's in-memory registry on 127.0.0.1,
// behind wrap (nil for none), and returns its host:port.
func serve(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no credentials from the host
	var h http.Handler = ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func randomImage(t *testing.T, size, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkStored validates the image named full in the store's layout with
// go-containerregistry's own reader, as another tool would read it.
func checkStored(t *testing.T, st *store.Store, full string, want v1.Hash) {
	t.Helper()
	if err := validate.Image(storedImage(t, st, full, want)); err != nil {
		t.Errorf("validate.Image(%s) = %v", full, err)
	}
}

// storedImage checks that full names the manifest want in the store, and
// opens that image through go-containerregistry's layout reader.
func storedImage(t *testing.T, st *store.Store, full string, want v1.Hash) v1.Image {
	t.Helper()
	e, err := st.Find(full)
	if err != nil {
		t.Fatalf("Find(%q) = %v", full, err)
	}
	// A Docker schema 2 manifest is stored converted to OCI media types,
	// and remembers the registry's digest.
	if e.Descriptor.Digest != want && e.Descriptor.Annotations[store.RegistryDigestAnnotation] != want.String() {
		t.Errorf("Find(%q) digest = %s (%v), want %s", full, e.Descriptor.Digest, e.Descriptor.Annotations, want)
	}
	if e.Descriptor.MediaType != types.OCIManifestSchema1 {
		t.Errorf("Find(%q) media type = %s, want %s", full, e.Descriptor.MediaType, types.OCIManifestSchema1)
	}
	p, err := layout.FromPath(st.Dir)
	if err != nil {
		t.Fatal(err)
	}
	img, err := p.Image(e.Descriptor.Digest)
	if err != nil {
		t.Fatalf("layout image %s: %v", e.Descriptor.Digest, err)
	}
	return img
}

func TestPullTagDigestAndSkip(t *testing.T) {
	host := serve(t, nil)
	st := newStore(t)
	want := push(t, host+"/demo/app:1", randomImage(t, 2048, 3))

	res, err := Pull(context.Background(), st, host+"/demo/app:1", Options{})
	if err != nil {
		t.Fatalf("Pull(tag) = %v", err)
	}
	if res.Registry != want || res.Downloaded != 4 || res.Stored != 0 {
		t.Errorf("Pull(tag) = %s, %d downloaded, %d stored; want %s, 4, 0", res.Manifest.Digest, res.Downloaded, res.Stored, want)
	}
	checkStored(t, st, host+"/demo/app:1", want)

	res, err = Pull(context.Background(), st, host+"/demo/app:1", Options{})
	if err != nil || res.Downloaded != 0 || res.Stored != 4 {
		t.Errorf("second Pull = %v, %+v; want nothing downloaded, 4 stored", err, res)
	}

	byDigest := host + "/demo/app@" + want.String()
	if res, err = Pull(context.Background(), st, byDigest, Options{}); err != nil || res.Registry != want {
		t.Fatalf("Pull(%q) = %v, %v", byDigest, res, err)
	}
	checkStored(t, st, byDigest, want)
}

func TestPullPlatform(t *testing.T) {
	host := serve(t, nil)
	amd, arm := randomImage(t, 512, 1), randomImage(t, 512, 2)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}})
	r, _ := name.ParseReference(host + "/multi:1")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	armDigest, _ := arm.Digest()
	amdDigest, _ := amd.Digest()

	for _, tc := range []struct {
		platform string
		want     v1.Hash
	}{
		{"linux/arm64", armDigest},
		{"linux/arm64/v8", armDigest},
		{"linux/amd64", amdDigest},
	} {
		st := newStore(t)
		res, err := Pull(context.Background(), st, host+"/multi:1", Options{Platform: tc.platform})
		if err != nil {
			t.Fatalf("Pull(--platform %s) = %v", tc.platform, err)
		}
		if res.Registry != tc.want || res.List == nil {
			t.Errorf("Pull(--platform %s) = %s (list %v), want %s", tc.platform, res.Manifest.Digest, res.List, tc.want)
		}
		checkStored(t, st, host+"/multi:1", tc.want)
	}

	_, err := Pull(context.Background(), newStore(t), host+"/multi:1", Options{Platform: "linux/s390x"})
	if err == nil || !strings.Contains(err.Error(), "no manifest for platform linux/s390x") || !strings.Contains(err.Error(), "linux/arm64/v8") {
		t.Errorf("Pull(--platform linux/s390x) = %v, want an error listing the platforms", err)
	}
}

// basicAuth asks for user:secret, as a registry with htpasswd does.
func basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "secret" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func TestPullAuth(t *testing.T) {
	locked := serve(t, func(h http.Handler) http.Handler { return basicAuth(h) })
	img := randomImage(t, 256, 1)
	r, _ := name.ParseReference(locked + "/private:1")
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: "user", Password: "secret"})); err != nil {
		t.Fatal(err)
	}

	_, err := Pull(context.Background(), newStore(t), locked+"/private:1", Options{})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Pull without credentials = %v, want refused", err)
	}
	_, err = Pull(context.Background(), newStore(t), locked+"/private:1", Options{Auth: &authn.Basic{Username: "user", Password: "wrong"}})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Pull with a wrong password = %v, want refused", err)
	}
	st := newStore(t)
	if _, err := Pull(context.Background(), st, locked+"/private:1", Options{Auth: &authn.Basic{Username: "user", Password: "secret"}}); err != nil {
		t.Fatalf("Pull with credentials = %v", err)
	}
	want, _ := img.Digest()
	checkStored(t, st, locked+"/private:1", want)
}

// corrupt serves the blob named digest with one byte changed.
func corrupt(digest string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/blobs/"+digest) {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			body[len(body)/2] ^= 0xff
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body)
		})
	}
}

func TestPullRejectsCorruptBlob(t *testing.T) {
	img := randomImage(t, 4096, 2)
	layers, _ := img.Layers()
	bad, _ := layers[1].Digest()
	host := serve(t, corrupt(bad.String()))
	push(t, host+"/demo:bad", img)

	st := newStore(t)
	_, err := Pull(context.Background(), st, host+"/demo:bad", Options{})
	var mm *store.MismatchError
	if !errors.As(err, &mm) || mm.Want != bad {
		t.Fatalf("Pull(corrupted layer) = %v, want a digest mismatch for %s", err, bad)
	}
	if st.HasBlob(bad, mm.WantSize) {
		t.Errorf("the corrupted blob %s was stored", bad)
	}
	if es, _ := st.List(); len(es) != 0 {
		t.Errorf("index.json has %v after a failed pull, want nothing", es)
	}
}

// A pull killed after the last byte of a blob, before it verified and
// renamed it, leaves the whole blob as a partial one: the next pull asks
// the registry nothing for it (a Range from its end is a 416) and stores it.
func TestPullKeptWholeBlob(t *testing.T) {
	img := randomImage(t, 4096, 1)
	cfg, _ := img.ConfigName()
	raw, _ := img.RawConfigFile()
	var asked sync.Map
	host := serve(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/blobs/"+cfg.String()) && r.Method == http.MethodGet {
				asked.Store(r.Header.Get("Range"), true)
				if r.Header.Get("Range") != "" {
					http.Error(w, "invalid range: failed to overlap", http.StatusRequestedRangeNotSatisfiable)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	})
	want := push(t, host+"/demo:kept", img)
	st := newStore(t)
	ing, err := st.Ingest(context.Background(), cfg, int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ing.Write(raw)
	ing.Close() // killed before Commit
	if _, err := Pull(context.Background(), st, host+"/demo:kept", Options{}); err != nil {
		t.Fatalf("Pull() with the config kept whole = %v", err)
	}
	checkStored(t, st, host+"/demo:kept", want)
	asked.Range(func(k, _ any) bool {
		t.Errorf("the registry was asked for the kept config (Range %q)", k)
		return true
	})
}

func TestPullErrors(t *testing.T) {
	host := serve(t, nil)
	push(t, host+"/demo:1", randomImage(t, 64, 1))
	for _, tc := range []struct{ ref, want string }{
		{host + "/demo:nope", "not found"},
		{host + "/nothere:1", "not found"},
		{"Not A Ref", "parse image reference"},
		{"127.0.0.1:1/demo:1", "cannot reach registry"},
	} {
		st := newStore(t)
		_, err := Pull(context.Background(), st, tc.ref, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Pull(%q) = %v, want an error containing %q", tc.ref, err, tc.want)
		}
		if es, _ := st.List(); len(es) != 0 {
			t.Errorf("Pull(%q) left %v in index.json", tc.ref, es)
		}
	}
	if _, err := Pull(context.Background(), newStore(t), host+"/demo:1", Options{Platform: "linux"}); err == nil {
		t.Errorf("Pull(--platform linux) = nil, want a usage error")
	}
}

func TestConcurrentPulls(t *testing.T) {
	host := serve(t, nil)
	want := push(t, host+"/demo:1", randomImage(t, 64<<10, 5))
	other := push(t, host+"/demo:2", randomImage(t, 1024, 2))
	st := newStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tag := []string{"1", "2"}[i%2]
			_, errs[i] = Pull(context.Background(), st, host+"/demo:"+tag, Options{Jobs: 2})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d = %v", i, err)
		}
	}
	es, _ := st.List()
	if len(es) != 2 {
		t.Errorf("index.json has %d images after concurrent pulls, want 2: %v", len(es), es)
	}
	checkStored(t, st, host+"/demo:1", want)
	checkStored(t, st, host+"/demo:2", other)
}

func TestImportAndSpec(t *testing.T) {
	dir := t.TempDir()
	tarPath := dir + "/rootfs.tar"
	if err := writeTar(tarPath, map[string]string{"etc/hostname": "box\n"}); err != nil {
		t.Fatal(err)
	}
	st := newStore(t)
	res, err := Import(st, []string{tarPath, tarPath}, "demo:1", ImportOptions{Cmd: []string{"/bin/sh"}, Env: []string{"A=1"}})
	if err != nil {
		t.Fatalf("Import = %v", err)
	}
	checkStored(t, st, "docker.io/library/demo:1", res.Manifest.Digest)
	doc := imagespec.ToSpec(nil, res.Name, res.Manifest, res.Config)
	if got := strings.Join(doc.Process.Args, " "); got != "/bin/sh" {
		t.Errorf("ToSpec args = %q, want /bin/sh", got)
	}
	if doc.Annotations["org.opencontainers.image.manifest.digest"] != res.Manifest.Digest.String() {
		t.Errorf("ToSpec annotations = %v, want the manifest digest", doc.Annotations)
	}
}
