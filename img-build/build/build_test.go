package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestKey(t *testing.T) {
	base := Key("p", "COPY a /a", "sha256:1")
	for name, k := range map[string]string{
		"parent":      Key("q", "COPY a /a", "sha256:1"),
		"instruction": Key("p", "COPY a /b", "sha256:1"),
		"content":     Key("p", "COPY a /a", "sha256:2"),
		"boundaries":  Key("p", "COPY a /as", "ha256:1"),
	} {
		if k == base {
			t.Errorf("Key with another %s = %s, the same as the original", name, k)
		}
	}
	if again := Key("p", "COPY a /a", "sha256:1"); again != base {
		t.Errorf("Key is not stable: %s, then %s", base, again)
	}
}

func TestIgnore(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader("# comment\n*.log\n/build\n**/*.tmp\ndocs\n!docs/keep.md\nsecret?.txt\n"))
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		"a.log": true, "sub/a.log": false, // *.log is only the top level, as in Docker
		"build": true, "build/x/y": true, "src/build": false,
		"x.tmp": true, "a/b/c.tmp": true,
		"docs/a.md": true, "docs/keep.md": false,
		"secret1.txt": true, "secret10.txt": false,
		"main.go": false,
	} {
		if got := ig.Ignored(path); got != want {
			t.Errorf("Ignored(%q) = %v, want %v", path, got, want)
		}
	}
	if !ig.MayHoldIncluded("docs") {
		t.Errorf("MayHoldIncluded(docs) = false, want true (docs/keep.md is re-included)")
	}
}

// TestCopyHash: the cache input of COPY changes with content, mode and
// owner, not with the mtime.
func TestCopyHash(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
	}
	write("a.txt", "one", 0o644)
	write("d/b.txt", "two", 0o644)
	hash := func(chown *owner) string {
		root, err := os.OpenRoot(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		items, err := planCopy(root, []string{"a.txt", "d"}, nil, "/dst/", nil, newFileIndex(), false)
		if err != nil {
			t.Fatal(err)
		}
		p := &copyPlan{root: root, items: items, chown: chown}
		h, err := p.Hash()
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h0 := hash(nil)
	os.Chtimes(filepath.Join(dir, "a.txt"), time.Unix(1e9, 0).AddDate(1, 0, 0), time.Unix(1e9, 0).AddDate(1, 0, 0))
	if h := hash(nil); h != h0 {
		t.Errorf("Hash after a new mtime = %s, want %s (unchanged)", h, h0)
	}
	if h := hash(&owner{1000, 1000}); h == h0 {
		t.Errorf("Hash with --chown=1000 = the same as without")
	}
	os.Chmod(filepath.Join(dir, "a.txt"), 0o755)
	h1 := hash(nil)
	if h1 == h0 {
		t.Errorf("Hash after chmod 755 = the same as before")
	}
	write("d/b.txt", "TWO", 0o644)
	if h := hash(nil); h == h1 {
		t.Errorf("Hash after new content = the same as before")
	}
}

func TestPlanCopy(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"a.go", "b.go", "c.txt", "d/e.go", "d/f/g.log"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), []byte(p), 0o644)
	}
	root, _ := os.OpenRoot(dir)
	defer root.Close()
	ig, _ := ParseIgnore(strings.NewReader("**/*.log\n"))
	for _, tc := range []struct {
		srcs []string
		dest string
		want string
	}{
		{[]string{"c.txt"}, "/x", "/x"},
		{[]string{"c.txt"}, "/x/", "/x/c.txt"},
		{[]string{"*.go"}, "/src/", "/src/a.go /src/b.go"},
		{[]string{"d"}, "/y", "/y /y/e.go /y/f"},
		{[]string{"a.go", "c.txt"}, "/z", "/z/a.go /z/c.txt"},
	} {
		items, err := planCopy(root, tc.srcs, nil, tc.dest, ig, newFileIndex(), false)
		if err != nil {
			t.Errorf("planCopy(%q, %q): %v", tc.srcs, tc.dest, err)
			continue
		}
		var got []string
		for _, it := range items {
			got = append(got, it.dest)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("planCopy(%q, %q) = %q, want %q", tc.srcs, tc.dest, strings.Join(got, " "), tc.want)
		}
	}
	if _, err := planCopy(root, []string{"../etc/passwd"}, nil, "/x", nil, newFileIndex(), false); err == nil {
		t.Errorf("planCopy(../etc/passwd) = nil error, want no such file (it cannot leave the context)")
	}
	if _, err := planCopy(root, []string{"d/f/g.log"}, nil, "/x", ig, newFileIndex(), false); err == nil {
		t.Errorf("planCopy of an ignored file = nil error, want one")
	}
}

// The file index reads the layers only when asked: a COPY whose cache hits
// never decompresses the image's layers.
func TestFileIndexOnDemand(t *testing.T) {
	images, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blob := tarGz(t, map[string]string{"etc/passwd": "app:x:1000:1000::/:/bin/sh\n", "usr/bin/tool": "x"})
	d, err := images.PutBytes("application/vnd.oci.image.layer.v1.tar+gzip", []byte(blob))
	if err != nil {
		t.Fatal(err)
	}
	cache := Cache{Dir: t.TempDir()}
	ix := newFileIndex()
	ix.update(images, cache, []Layer{{Desc: d}})
	if ix.applied != 0 || len(ix.entries) != 0 {
		t.Fatalf("update read %d layers (%d entries); want none until asked", ix.applied, len(ix.entries))
	}
	if !ix.exists("/usr/bin/tool") || ix.applied != 1 {
		t.Errorf("after a question: /usr/bin/tool not found, %d layers read (%d entries, err %v)", ix.applied, len(ix.entries), ix.err)
	}
	if passwd, _, err := ix.users(); err != nil || !strings.Contains(string(passwd), "app:") {
		t.Errorf("users() = %q, %v; want the layer's /etc/passwd", passwd, err)
	}
	// The next build on this layer reads the index the first one kept, not
	// the layer: its blob may even be gone.
	blob2, err := os.ReadFile(images.BlobPath(d.Digest))
	if err != nil || os.Remove(images.BlobPath(d.Digest)) != nil {
		t.Fatal(err)
	}
	again := newFileIndex()
	again.update(images, cache, []Layer{{Desc: d}})
	if !again.exists("/usr/bin/tool") || again.isDir("/usr/bin/tool") || again.exists("/usr/bin/other") || again.err != nil {
		t.Errorf("from the kept index: exists(/usr/bin/tool) %v, isDir(/usr/bin/tool) %v, err %v", again.exists("/usr/bin/tool"), again.isDir("/usr/bin/tool"), again.err)
	}
	if passwd, _, err := again.users(); err != nil || !strings.Contains(string(passwd), "app:") {
		t.Errorf("users() from the kept index = %q, %v; want the layer's /etc/passwd", passwd, err)
	}
	if _, err := images.PutBytes("application/vnd.oci.image.layer.v1.tar+gzip", blob2); err != nil {
		t.Fatal(err)
	}
	// A layer that cannot be read: the error stays for the caller.
	missing := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}}
	ix.update(images, cache, []Layer{{Desc: d}, {Desc: missing}})
	if ix.exists("/anything"); ix.err == nil {
		t.Error("a missing layer blob gave no error")
	}
}

// Whiteouts and opaque directories of an upper layer hide what the lower
// one had, the same when the index is read from the layers and when it
// comes from the build cache.
func TestFileIndexWhiteouts(t *testing.T) {
	images, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var layers []Layer
	for _, files := range []map[string]string{
		{"a/b": "x", "a/k": "x", "c/d": "x"},
		{"a/.wh.b": "", "c/.wh..wh..opq": ""},
		{"c/e": "x"}, // a layer of its own: tarGz's order is a map's
	} {
		d, err := images.PutBytes("application/vnd.oci.image.layer.v1.tar+gzip", []byte(tarGz(t, files)))
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, Layer{Desc: d})
	}
	cache := Cache{Dir: t.TempDir()}
	for _, from := range []string{"the layers", "the build cache"} {
		ix := newFileIndex()
		ix.update(images, cache, layers)
		for p, want := range map[string]bool{"/a/b": false, "/a/k": true, "/c/d": false, "/c/e": true} {
			if got := ix.exists(p); got != want || ix.err != nil {
				t.Errorf("from %s: exists(%s) = %v (err %v), want %v", from, p, got, ix.err, want)
			}
		}
	}
}
