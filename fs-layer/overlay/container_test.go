package overlay

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"ctrkit/fs-layer/layer"
	"ctrkit/internal/explain"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// The privileged tests below make a layer store of two hand-made layers in
// a temporary directory, mount containers from it with each driver, and
// read what the kernel shows. They need root (mount, mknod, trusted.*
// xattrs); everything is unmounted and removed when they end.

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: mounts overlayfs and bind mounts")
	}
}

// twoLayers makes ROOT/layers/CHAIN/diff for a bottom and a top layer:
//
//	bottom: etc/hostname "one", gone, dir/old, a/keep, h1 and h2 (one inode), ln → etc/hostname
//	top:    etc/hostname "two", a whiteout for gone, dir opaque with dir/new
func twoLayers(t *testing.T, root string) []layer.Layer {
	t.Helper()
	var ls []layer.Layer
	for i, files := range []map[string]string{
		{"etc/hostname": "one", "gone": "g", "dir/old": "o", "a/keep": "k", "h1": "hard"},
		{"etc/hostname": "two", "dir/new": "n"},
	} {
		h, _ := v1.NewHash(fmt.Sprintf("sha256:%02x%062x", i+1, 0xc0ffee))
		diff := filepath.Join(root, "layers", h.Hex, "diff")
		for name, data := range files {
			mustWrite(t, filepath.Join(diff, name), data)
		}
		switch i {
		case 0:
			must(t, os.Link(filepath.Join(diff, "h1"), filepath.Join(diff, "h2")))
			must(t, os.Symlink("etc/hostname", filepath.Join(diff, "ln")))
			must(t, os.Chown(filepath.Join(diff, "a/keep"), 1234, 5678))
		case 1:
			must(t, unix.Mknod(filepath.Join(diff, "gone"), unix.S_IFCHR|0o600, 0))
			must(t, unix.Setxattr(filepath.Join(diff, "dir"), "trusted.overlay.opaque", []byte("y"), 0))
		}
		ls = append(ls, layer.Layer{Index: i + 1, ChainID: h, DiffID: h})
	}
	return ls
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, file, data string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(file), 0o755))
	must(t, os.WriteFile(file, []byte(data), 0o644))
}

// checkMerged checks the merged view of twoLayers at mp.
func checkMerged(t *testing.T, mp string) {
	t.Helper()
	for name, want := range map[string]string{"etc/hostname": "two", "a/keep": "k", "dir/new": "n", "ln": "two", "h2": "hard"} {
		if got, err := os.ReadFile(filepath.Join(mp, name)); err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"gone", "dir/old"} {
		if _, err := os.Lstat(filepath.Join(mp, name)); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want it hidden (whiteout, opaque dir)", name, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(mp, "a/keep")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 1234 {
		t.Errorf("a/keep's owner: %v, want uid 1234 as in the layer", err)
	}
}

func setup(t *testing.T, driver string) (Setup, *bytes.Buffer) {
	base := t.TempDir()
	var log bytes.Buffer
	s := Setup{Root: filepath.Join(base, "root"), State: filepath.Join(base, "state"), ID: "ct1", Image: "test:1",
		Manifest: "sha256:m1", Driver: driver, Log: explain.New("fs-layer", &log, true)}
	s.Layers = twoLayers(t, s.Root)
	return s, &log
}

func TestContainerOverlay(t *testing.T) {
	needRoot(t)
	s, log := setup(t, DriverOverlay)
	c, err := New(s)
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	t.Cleanup(func() { unix.Unmount(c.Mountpoint, unix.MNT_DETACH) })
	if c.Driver != DriverOverlay || !strings.Contains(log.String(), "mount -t overlay overlay -o lowerdir=l/02") {
		t.Errorf("New(): driver %s, log:\n%s", c.Driver, log)
	}
	checkMerged(t, c.Mountpoint)
	mustWrite(t, filepath.Join(c.Mountpoint, "etc/hostname"), "mine")

	got, err := Load(s.Root, s.State, s.ID)
	if err != nil || !got.Mounted || got.Image != "test:1" || len(got.Chain) != 2 {
		t.Errorf("Load() = %+v, %v; want it mounted, image test:1, two layers", got, err)
	}
	if ids, err := List(s.Root); err != nil || len(ids) != 1 || ids[0] != "ct1" {
		t.Errorf("List() = %q, %v", ids, err)
	}
	if f, err := got.Which("/etc/hostname"); err != nil || f == nil || f.Layer != 0 {
		t.Errorf("Which(/etc/hostname) = %+v, %v; want the container layer (copied up)", f, err)
	}
	if _, err := New(s); err == nil || !strings.Contains(err.Error(), "already mounted") {
		t.Errorf("New() again = %v, want 'already mounted'", err)
	}
	if err := got.Umount(s.Log); err != nil {
		t.Fatalf("Umount() = %v", err)
	}
	if ok, _ := IsMountpoint(c.Mountpoint); ok {
		t.Fatalf("%s is mounted after Umount", c.Mountpoint)
	}
	s2 := s
	s2.Manifest = "sha256:other"
	if _, err := New(s2); err == nil || !strings.Contains(err.Error(), "exists, made from test:1") {
		t.Errorf("New(another image, same id) = %v, want 'exists, made from'", err)
	}

	// Mounted again, read-only, with a lost short link: the link is made
	// again, and the upper layer is as it was.
	os.Remove(filepath.Join(s.Root, "layers", layer.Short(s.Layers[0].ChainID)))
	var notices []string
	s.ReadOnly, s.Driver, s.Notice = true, "", func(n string) { notices = append(notices, n) }
	c, err = New(s)
	if err != nil {
		t.Fatalf("New() of an unmounted container = %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(c.Mountpoint, "etc/hostname")); string(b) != "mine" {
		t.Errorf("etc/hostname after mounting again = %q, want the container's own", b)
	}
	if len(notices) != 1 || !strings.Contains(notices[0], "short link") {
		t.Errorf("notices = %q, want one about the short link made again", notices)
	}
	if err := os.WriteFile(filepath.Join(c.Mountpoint, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write in a read-only root = %v, want EROFS", err)
	}
	if c, err = Load(s.Root, s.State, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(s.Log); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	for _, p := range []string{c.Dir, c.Mountpoint, filepath.Join(s.State, s.ID)} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is left after Remove: %v", p, err)
		}
	}
	if _, err := Load(s.Root, s.State, s.ID); err == nil || !strings.Contains(err.Error(), "no container") {
		t.Errorf("Load() after Remove = %v", err)
	}
}

func TestContainerCopy(t *testing.T) {
	needRoot(t)
	s, log := setup(t, DriverCopy)
	s.ReadOnly = true
	c, err := New(s)
	if err != nil {
		t.Fatalf("New(copy) = %v", err)
	}
	t.Cleanup(func() { unix.Unmount(c.Mountpoint, unix.MNT_DETACH) })
	if c.Driver != DriverCopy || !strings.Contains(log.String(), "mount --bind ") || !strings.Contains(log.String(), "cp -a ") {
		t.Errorf("New(copy): driver %s, log:\n%s", c.Driver, log)
	}
	checkMerged(t, c.Mountpoint)
	var a, b unix.Stat_t
	unix.Stat(filepath.Join(c.CopyRoot(), "h1"), &a)
	unix.Stat(filepath.Join(c.CopyRoot(), "h2"), &b)
	if a.Ino != b.Ino || a.Ino == 0 {
		t.Errorf("h1 and h2 are inodes %d and %d in the copy, want one (a hard link)", a.Ino, b.Ino)
	}
	if err := os.WriteFile(filepath.Join(c.Mountpoint, "x"), nil, 0o644); !errors.Is(err, unix.EROFS) {
		t.Errorf("write in a read-only copy = %v, want EROFS", err)
	}
	if c, err = Load(s.Root, s.State, s.ID); err != nil || !c.Mounted {
		t.Fatalf("Load() = %+v, %v; want it mounted", c, err)
	}
	if err := c.Umount(s.Log); err != nil {
		t.Fatal(err)
	}
	if err := c.Mount(s.Log); err != nil { // the copy is made once
		t.Fatalf("Mount() again = %v", err)
	}
	if c, err = Load(s.Root, s.State, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(s.Log); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("%s is left: %v", c.Dir, err)
	}
}

// TestContainerIdmapped mounts the layers idmapped (--userns 0 100000
// 65536): root's files show as 100000 outside, and the upper dir is 100000's.
func TestContainerIdmapped(t *testing.T) {
	needRoot(t)
	s, log := setup(t, DriverOverlay)
	s.Userns = "0 100000 65536"
	c, err := New(s)
	if err != nil {
		if strings.Contains(err.Error(), "idmapped mount") {
			t.Skip(err)
		}
		t.Fatalf("New(userns) = %v", err)
	}
	t.Cleanup(func() { c.Umount(nil); unix.Unmount(c.Mountpoint, unix.MNT_DETACH) })
	if !strings.Contains(log.String(), "mount --bind -o X-mount.idmap=0:100000:65536 ") {
		t.Errorf("log lacks the idmapped mount:\n%s", log)
	}
	for name, uid := range map[string]uint32{"etc/hostname": 100000, "a/keep": 101234} {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(c.Mountpoint, name), &st); err != nil || st.Uid != uid {
			t.Errorf("%s: uid %d, %v; want %d (shifted by the map)", name, st.Uid, err, uid)
		}
	}
	var st unix.Stat_t
	if unix.Stat(c.Upper(), &st); st.Uid != 100000 {
		t.Errorf("upper dir uid %d, want 100000", st.Uid)
	}
	if c, err = Load(s.Root, s.State, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(nil); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if _, err := os.Stat(c.IdmappedDir()); !os.IsNotExist(err) {
		t.Errorf("%s is left: %v", c.IdmappedDir(), err)
	}
	s.Userns = "1 2 3"
	if _, err := New(s); err == nil || !strings.Contains(err.Error(), "map root") {
		t.Errorf("New(userns 1 2 3) = %v, want 'map root'", err)
	}
}

func TestMountErrors(t *testing.T) {
	needRoot(t)
	d := t.TempDir()
	// The kernel refuses a lowerdir, upperdir and workdir that do not exist.
	err := MountOverlay(nil, d, []string{"l/missing"}, filepath.Join(d, "u"), filepath.Join(d, "w"), d, false)
	var me *MountError
	if err == nil || !errors.As(err, &me) || !strings.Contains(err.Error(), "mount -t overlay overlay -o lowerdir=l/missing") {
		t.Errorf("MountOverlay(missing dirs) = %v, want a MountError", err)
	}
	if err := MountOverlay(nil, filepath.Join(d, "nope"), []string{"x"}, "u", "w", d, false); err == nil || !strings.Contains(err.Error(), "chdir") {
		t.Errorf("MountOverlay(missing layers dir) = %v, want chdir's error", err)
	}
	if err := Bind(nil, filepath.Join(d, "nope"), d, false); err == nil || !strings.Contains(err.Error(), "mount --bind") {
		t.Errorf("Bind(missing) = %v", err)
	}
	if err := Unmount(nil, d); err == nil || !strings.Contains(err.Error(), "umount") {
		t.Errorf("Unmount(not a mount) = %v", err)
	}
	// A busy mount: a file open below it.
	mp := filepath.Join(d, "mp")
	os.Mkdir(mp, 0o755)
	must(t, Bind(nil, d, mp, false))
	defer unix.Unmount(mp, unix.MNT_DETACH)
	f, err := os.Open(filepath.Join(mp, "mp"))
	must(t, err)
	if err := Unmount(nil, mp); err == nil || !strings.Contains(err.Error(), "fuser -vm") {
		t.Errorf("Unmount(busy) = %v, want a hint at fuser", err)
	}
	f.Close()
	if err := Unmount(nil, mp); err != nil {
		t.Errorf("Unmount() = %v", err)
	}
}
