package overlay

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLowerdir(t *testing.T) {
	got := Lowerdir([]string{"l/bottom", "l/middle", "l/top"})
	if want := "l/top:l/middle:l/bottom"; got != want {
		t.Errorf("Lowerdir(bottom, middle, top) = %q, want %q (overlay wants the top first)", got, want)
	}
}

func shortNames(n int) []string {
	var s []string
	for i := range n {
		s = append(s, fmt.Sprintf("l/%012x", i))
	}
	return s
}

func TestOptionsLimits(t *testing.T) {
	upper, work := "/var/lib/ctrkit/containers/0123456789ab/upper", "/var/lib/ctrkit/containers/0123456789ab/work"
	// 128 layers (Docker's own limit) fit with short names …
	data, err := Options(shortNames(128), upper, work)
	if err != nil {
		t.Fatalf("Options(128 short layers) = %v", err)
	}
	if !strings.HasPrefix(data, "lowerdir=l/00000000007f:") || !strings.HasSuffix(data, ",upperdir="+upper+",workdir="+work) {
		t.Errorf("Options(128) = %q…, want lowerdir=l/…7f:… first and upper/work last", data[:40])
	}
	// … where absolute paths would not.
	var abs []string
	for i := range 128 {
		abs = append(abs, fmt.Sprintf("/var/lib/ctrkit/layers/%064x/diff", i))
	}
	if _, err := Options(abs, upper, work); err == nil || !strings.Contains(err.Error(), "one page") {
		t.Errorf("Options(128 absolute layers) = %v, want a one-page error", err)
	}
	if _, err := Options(shortNames(501), upper, work); err == nil || !strings.Contains(err.Error(), "OVL_MAX_STACK") {
		t.Errorf("Options(501 layers) = %v, want OVL_MAX_STACK", err)
	}
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"abc", "ck-t123456", "a.b_c"} {
		if err := CheckID(ok); err != nil {
			t.Errorf("CheckID(%q) = %v, want nil", ok, err)
		}
	}
	for _, bad := range []string{"", "../x", "a/b", ".hidden", strings.Repeat("a", 200)} {
		if err := CheckID(bad); err == nil {
			t.Errorf("CheckID(%q) = nil, want an error", bad)
		}
	}
}

// TestMountDeep mounts 200 layers under a long temporary path: with
// absolute lowerdirs the options would be ~20 KB, five times mount(2)'s
// page; the short links make it fit.
func TestMountDeep(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: mount(2) (sudo go test; privileged: mounts overlayfs)")
	}
	base := t.TempDir()
	layers := filepath.Join(base, "layers")
	var shorts []string
	for i := range 200 {
		diff := filepath.Join(layers, fmt.Sprintf("%064x", i), "diff")
		if err := os.MkdirAll(diff, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(diff, fmt.Sprintf("f%03d", i)), []byte{byte(i)}, 0o644)
		os.WriteFile(filepath.Join(diff, "top"), []byte(fmt.Sprint(i)), 0o644)
		short := fmt.Sprintf("l/%012x", i)
		os.MkdirAll(filepath.Join(layers, "l"), 0o755)
		if err := os.Symlink(fmt.Sprintf("../%064x/diff", i), filepath.Join(layers, short)); err != nil {
			t.Fatal(err)
		}
		shorts = append(shorts, short)
	}
	upper, work, merged := filepath.Join(base, "upper"), filepath.Join(base, "work"), filepath.Join(base, "merged")
	for _, d := range []string{upper, work, merged} {
		os.Mkdir(d, 0o755)
	}
	if err := MountOverlay(nil, layers, shorts, upper, work, merged, false); err != nil {
		if strings.Contains(err.Error(), "no overlayfs") {
			t.Skip(err)
		}
		t.Fatalf("MountOverlay(200 layers) = %v", err)
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
	if ok, _ := IsMountpoint(merged); !ok {
		t.Fatalf("%s is not a mount point after MountOverlay", merged)
	}
	if b, err := os.ReadFile(filepath.Join(merged, "f000")); err != nil || b[0] != 0 {
		t.Errorf("merged/f000 (bottom layer) = %v, %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(merged, "top")); string(b) != "199" {
		t.Errorf("merged/top = %q, want 199 (the top layer wins)", b)
	}
	if wd, _ := os.Getwd(); wd == layers {
		t.Errorf("MountOverlay changed the process's working directory to %s", wd)
	}
	// Copy-on-write: a write lands in upper, the layer is untouched.
	if err := os.WriteFile(filepath.Join(merged, "f000"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(layers, shorts[0], "f000")); len(b) != 1 {
		t.Errorf("the bottom layer's f000 changed to %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(upper, "f000")); string(b) != "changed" {
		t.Errorf("upper/f000 = %q, want changed (copied up)", b)
	}
	os.Remove(filepath.Join(merged, "f001"))
	f, err := Which([]string{upper, filepath.Join(layers, shorts[1])}, "/f001")
	if err != nil || f == nil || !f.Deleted || f.Layer != 0 {
		t.Errorf("Which(f001) = %+v, %v; want deleted in the container layer", f, err)
	}
	if err := Unmount(nil, merged); err != nil {
		t.Errorf("Unmount = %v", err)
	}
}
