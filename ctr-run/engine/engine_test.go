package engine

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestAPILess(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{{"1.9", "1.41", true}, {"1.41", "1.43", true}, {"1.43", "1.43", false}, {"2.0", "1.99", false}} {
		if got := apiLess(tt.a, tt.b); got != tt.want {
			t.Errorf("apiLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

// TestOptions checks that a create request becomes the flags ctr-run
// would take for the same docker run command line.
func TestOptions(t *testing.T) {
	body := `{"Image": "busybox", "Cmd": null, "Entrypoint": ["sh", "-c"], "Env": ["A=1"], "User": "1000",
		"HostConfig": {"NetworkMode": "default", "Memory": 67108864, "NanoCpus": 500000000, "AutoRemove": true,
		"PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}, "Binds": ["vol:/data"]}}`
	var cfg containerConfig
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatal(err)
	}
	o, err := cfg.options("web")
	if err != nil {
		t.Fatal(err)
	}
	if o.Entrypoint == nil || *o.Entrypoint != "sh" || !slices.Equal(o.Cmd, []string{"-c"}) {
		t.Errorf("entrypoint %v, cmd %q: want sh and [-c]", o.Entrypoint, o.Cmd)
	}
	if o.Network != "bridge" || !o.Rm || o.Name != "web" || !slices.Equal(o.Publish, []string{"8080:80"}) {
		t.Errorf("network %q, rm %v, name %q, publish %q", o.Network, o.Rm, o.Name, o.Publish)
	}
	if want := []string{"--memory=67108864", "--cpus=0.5"}; !slices.Equal(o.Limits, want) {
		t.Errorf("limits %q, want %q", o.Limits, want)
	}
	cfg.HostConfig.NetworkMode = "overlay1"
	if _, err := cfg.options(""); err == nil {
		t.Error("an unknown network was accepted")
	}
}

func TestFrame(t *testing.T) {
	var b bytes.Buffer
	frame(&b, 2, []byte("oops\n"))
	if want := "\x02\x00\x00\x00\x00\x00\x00\x05oops\n"; b.String() != want {
		t.Errorf("frame = %q, want %q", b.String(), want)
	}
}

// TestErrors checks the Engine API's error shape, without any container.
func TestErrors(t *testing.T) {
	s := New(t.TempDir(), t.TempDir(), "ctr-run", false, &bytes.Buffer{})
	for _, tt := range []struct {
		method, path, body string
		code               int
		message            string
	}{
		{"GET", "/v1.41/nope", "", 404, "page not found"},
		{"GET", "/v1.99/version", "", 400, "too new"},
		{"GET", "/v1.12/version", "", 400, "too old"},
		{"POST", "/v1.41/containers/create", `{"Image": 5}`, 400, "Image"},
		{"POST", "/v1.41/containers/create", `{"Image": "busybox", "HostConfig": {"NetworkMode": "x"}}`, 404, "no such image"},
		{"GET", "/v1.41/containers/abc/json", "", 404, "no such container"},
		{"GET", "/_ping", "", 200, ""},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body)))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.message) {
			t.Errorf("%s %s = %d %s, want %d %q", tt.method, tt.path, rec.Code, rec.Body, tt.code, tt.message)
		}
		if rec.Code >= 400 && rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tt.method, tt.path, rec.Header().Get("Content-Type"))
		}
		if rec.Header().Get("Api-Version") != APIVersion {
			t.Errorf("%s %s: no Api-Version header", tt.method, tt.path)
		}
	}
}
