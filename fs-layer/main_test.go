package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ctrkit/internal/cli"
	"ctrkit/internal/store"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runFL calls fs-layer as a shell would call the binary, with --root and
// --state under dirs of the test: arguments in, streams out. stdin is a
// file holding the given document, or /dev/null for "".
func runFL(t *testing.T, root, state, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	in, err := os.Open(os.DevNull)
	if stdin != "" {
		p := filepath.Join(t.TempDir(), "stdin.json")
		if err := os.WriteFile(p, []byte(stdin), 0o600); err != nil {
			t.Fatal(err)
		}
		in, err = os.Open(p)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out, errb bytes.Buffer
	err = run(append([]string{"--root", root, "--state", state}, args...), in, &out, &errb)
	code = cli.Status("fs-layer", &errb, err)
	return out.String(), errb.String(), code
}

// mkTar is a layer holding the files (name → content), each 0644 and
// owned by root, with the directories they need.
func mkTar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for name, body := range files {
		if d := filepath.Dir(name); d != "." && !dirs[d] {
			dirs[d] = true
			tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755})
		}
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// putImage stores an image of the given layer tars (bottom first) under
// name, as img-pull does.
func putImage(t *testing.T, root, name string, tars ...[]byte) {
	t.Helper()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, tb := range tars {
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
}

func TestRunHelp(t *testing.T) {
	out, _, code := runFL(t, t.TempDir(), t.TempDir(), "", "--help")
	if code != 0 || !strings.Contains(out, "Usage: fs-layer") {
		t.Errorf("fs-layer --help = exit %d, stdout %q; want 0 and the usage", code, out)
	}
	out, _, code = runFL(t, t.TempDir(), t.TempDir(), "", "mount", "--help")
	if code != 0 || !strings.Contains(out, "lowerdir=l/TOP") {
		t.Errorf("fs-layer mount --help = exit %d, stdout %q; want 0 and the long help", code, out)
	}
}

func TestRunErrors(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"--bogus"}, "unknown flag --bogus", 80},
		{[]string{"mount"}, "no image: give one", 1},
		{[]string{"mount", "nothing:here"}, "nothing:here", 1},
		{[]string{"mount", "--name", "../x", "nothing:here"}, `container id "../x"`, 1},
		{[]string{"umount", "ghost"}, `no container "ghost"`, 1},
		{[]string{"rm", "ghost"}, `no container "ghost"`, 1},
		{[]string{"which", "ghost", "/etc"}, `no container "ghost"`, 1},
		{[]string{"diff", "ghost"}, `no container "ghost"`, 1},
		{[]string{"commit", "ghost", "x:1"}, `no container "ghost"`, 1},
		{[]string{"tree", "nothing:here"}, "nothing:here", 1},
		{[]string{"volume", "inspect", "nope"}, "nope", 1},
	} {
		_, stderr, code := runFL(t, root, state, "", tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("fs-layer %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if _, stderr, code := runFL(t, root, state, "", "rm", "-f", "ghost"); code != 0 {
		t.Errorf("fs-layer rm -f ghost = exit %d (%s), want 0", code, stderr)
	}
	// --name against the document's own id
	doc := `{"ociVersion":"1.2.0","annotations":{"ctrkit.id":"a","org.opencontainers.image.ref.name":"x:1"}}`
	if _, stderr, code := runFL(t, root, state, doc, "mount", "--name", "b"); code != 1 || !strings.Contains(stderr, "--name b: the document already names the container a") {
		t.Errorf("fs-layer mount --name b <doc of a> = exit %d, %q; want the mismatch", code, stderr)
	}
}

func TestRunTreeUnpack(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	base := mkTar(t, map[string]string{"etc/os-release": "base"})
	putImage(t, root, "a:1", base, mkTar(t, map[string]string{"a": "a"}))
	putImage(t, root, "b:1", base)

	out, stderr, code := runFL(t, root, state, "", "tree", "a:1")
	if code != 0 || !strings.Contains(out, "docker.io/library/a:1  sha256:") || !strings.Contains(out, ", 2 layers") ||
		strings.Count(out, "[not unpacked yet]") != 2 || strings.Count(out, "shared with b:1") != 1 {
		t.Errorf("fs-layer tree a:1 = exit %d, %q, stdout:\n%s\nwant 2 layers not unpacked, the base shared with b:1", code, stderr, out)
	}
	out, stderr, code = runFL(t, root, state, "", "unpack", "a:1")
	dirs := strings.Fields(out)
	if code != 0 || len(dirs) != 2 {
		t.Fatalf("fs-layer unpack a:1 = exit %d, %q, stdout %q; want two directories", code, stderr, out)
	}
	if b, err := os.ReadFile(filepath.Join(dirs[0], "etc/os-release")); err != nil || string(b) != "base" {
		t.Errorf("bottom layer %s/etc/os-release = %q, %v; want base", dirs[0], b, err)
	}
	out, _, _ = runFL(t, root, state, "", "tree", "a:1")
	if !regexp.MustCompile(`(?m)^  ├─ layer 1 .*\[l/[0-9a-f]{12}\]  shared with b:1$`).MatchString(out) {
		t.Errorf("fs-layer tree a:1 after unpack:\n%s\nwant layer 1 in the store (l/…) and shared with b:1", out)
	}
	out, _, _ = runFL(t, root, state, "", "tree", "--mermaid", "a:1")
	if !strings.HasPrefix(out, "flowchart BT\n") || !strings.Contains(out, "L1 --> L2") || !strings.Contains(out, "L2 --> C") {
		t.Errorf("fs-layer tree --mermaid a:1:\n%s\nwant a flowchart L1 --> L2 --> C", out)
	}
	out, _, code = runFL(t, root, state, "", "ls")
	if code != 0 || out != "ID  IMAGE  LAYERS  DRIVER  MOUNTED  ROOTFS  VOLUMES\n" {
		t.Errorf("fs-layer ls with no containers = exit %d, %q; want the header alone", code, out)
	}
}

func TestRunVolume(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	if out, stderr, code := runFL(t, root, state, "", "volume", "create", "data"); code != 0 || out != "data\n" {
		t.Fatalf("fs-layer volume create data = exit %d, %q, %q; want data", code, out, stderr)
	}
	mp := filepath.Join(root, "volumes", "data", "_data")
	if err := os.WriteFile(filepath.Join(mp, "f"), make([]byte, 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, _ := runFL(t, root, state, "", "volume", "ls")
	if !regexp.MustCompile(`(?m)^data +2\.0 KiB +` + regexp.QuoteMeta(mp) + `$`).MatchString(out) {
		t.Errorf("fs-layer volume ls = %q, want data, 2.0 KiB, %s", out, mp)
	}
	out, _, _ = runFL(t, root, state, "", "volume", "inspect", "data")
	var v struct{ Name, Mountpoint string }
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Name != "data" || v.Mountpoint != mp {
		t.Errorf("fs-layer volume inspect data = %q (%v), want name data, mountpoint %s", out, err, mp)
	}
	if out, stderr, code := runFL(t, root, state, "", "volume", "rm", "data"); code != 0 || out != "data\n" {
		t.Errorf("fs-layer volume rm data = exit %d, %q, %q; want data", code, out, stderr)
	}
	if _, err := os.Stat(mp); !os.IsNotExist(err) {
		t.Errorf("after volume rm, %s: %v, want it gone", mp, err)
	}
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
	if got := trunc("abcdef", 4); got != "abc…" {
		t.Errorf("trunc(abcdef, 4) = %q, want abc…", got)
	}
}

// mount in a pipe resolves an image USER given by name through the
// image's own /etc/passwd, and refuses a garbage uid rather than running
// as root. Needs root (overlayfs).
func TestRunMountUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts overlayfs (sudo go test)")
	}
	root, state := t.TempDir(), t.TempDir()
	putImage(t, root, "u:1", mkTar(t, map[string]string{
		"etc/passwd": "root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nbad:x:oops:0::/:/bin/sh\n",
		"etc/group":  "root:x:0:\nstaff:x:50:app\n",
	}))
	docFor := func(id, user string) string {
		return `{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"},"annotations":{"ctrkit.id":"` + id +
			`","org.opencontainers.image.ref.name":"u:1","ctrkit.image.user":"` + user + `"}}`
	}
	for _, tc := range []struct {
		user     string
		uid, gid uint32
	}{
		{"app", 1000, 1001},
		{"app:staff", 1000, 50},
		{"7:staff", 7, 50},
	} {
		id := "fl-user-" + strings.NewReplacer(":", "-").Replace(tc.user)
		out, stderr, code := runFL(t, root, state, docFor(id, tc.user), "mount")
		t.Cleanup(func() { runFL(t, root, state, "", "rm", "-f", id) })
		var doc specs.Spec
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
			t.Errorf("USER %s: fs-layer mount = exit %d, %q, stdout %q", tc.user, code, stderr, out)
			continue
		}
		if doc.Process.User.UID != tc.uid || doc.Process.User.GID != tc.gid {
			t.Errorf("USER %s: process.user = %d:%d, want %d:%d", tc.user, doc.Process.User.UID, doc.Process.User.GID, tc.uid, tc.gid)
		}
		if want := filepath.Join(state, id, "rootfs"); doc.Root == nil || doc.Root.Path != want {
			t.Errorf("USER %s: root = %+v, want path %s", tc.user, doc.Root, want)
		}
		if _, stderr, code := runFL(t, root, state, "", "rm", id); code != 0 {
			t.Errorf("fs-layer rm %s = exit %d, %q", id, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(state, id)); !os.IsNotExist(err) {
			t.Errorf("after fs-layer rm %s, STATE/%s: %v; want it removed", id, id, err)
		}
	}
	_, stderr, code := runFL(t, root, state, docFor("fl-user-bad", "bad"), "mount")
	t.Cleanup(func() { runFL(t, root, state, "", "rm", "-f", "fl-user-bad") })
	if code != 1 || !strings.Contains(stderr, `"oops" is not a number`) {
		t.Errorf("USER bad (uid oops): fs-layer mount = exit %d, %q; want an error, not uid 0", code, stderr)
	}
}
