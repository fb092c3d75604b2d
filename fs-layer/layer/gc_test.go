package layer

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/lease"
	"ctrkit/internal/proc"
	"ctrkit/internal/store"
)

// deadLease leaves, under root, the lease of an unpack whose fs-layer was
// killed: its holder is a process that has ended.
func deadLease(t *testing.T, root string, res ...string) *lease.Lease {
	t.Helper()
	l, err := lease.Take(leaseDir(root), "unpack")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Add(res...); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	l.Holder = proc.ID{PID: cmd.Process.Pid, Start: 1}
	data, _ := json.Marshal(l)
	if err := os.WriteFile(l.Path(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

func gcPaths(items []GCItem) map[string]string {
	m := map[string]string{}
	for _, it := range items {
		m[it.Path] = it.Action
	}
	return m
}

func TestGC(t *testing.T) {
	root := t.TempDir()
	images, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	base := mkTar(t, file("etc/os-release", "base", 0o644))
	putImage(t, images, "a:1", base, mkTar(t, file("a", "a", 0o644)))
	putImage(t, images, "b:1", base, mkTar(t, file("b", "bbbb", 0o644)))
	putImage(t, images, "c:1", base, mkTar(t, file("c", "c", 0o644)))
	var layers [3][]Layer
	var ls *Store
	for i, ref := range []string{"a:1", "b:1", "c:1"} {
		if _, ls, layers[i], err = UnpackImage(root, ref, nil); err != nil {
			t.Fatalf("UnpackImage(%s) = %v", ref, err)
		}
	}
	if l, err := ls.ReadLayer(layers[1][1].ChainID); err != nil || l.Index != 2 || l.DiffID != layers[1][1].DiffID {
		t.Errorf("ReadLayer(b's top) = %+v, %v", l, err)
	}
	// b:1 and c:1 are removed; a container still uses c's top layer.
	for _, ref := range []string{"b:1", "c:1"} {
		if _, err := images.Remove(ref); err != nil {
			t.Fatal(err)
		}
	}
	bTop, cTop, aTop := layers[1][1].ChainID, layers[2][1].ChainID, layers[0][1].ChainID
	// A half-unpacked layer of a killed unpack, with its lease; another
	// that a live unpack still works on.
	killed := filepath.Join("layers", "tmp", "0123456789ab.deadbeef")
	mustWriteFile(t, filepath.Join(root, killed, "big"), "12345")
	dl := deadLease(t, root, killed)
	working := filepath.Join("layers", "tmp", "ba9876543210.cafe")
	mustWriteFile(t, filepath.Join(root, working, "f"), "x")
	live, err := ls.takeLease(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()
	live.Add(working)
	// a's top lost its short link; a link points at a layer that is gone.
	os.Remove(filepath.Join(ls.Dir, Short(aTop)))
	os.Symlink("../"+strings.Repeat("e", 64)+"/diff", filepath.Join(ls.Dir, "l", "eeeeeeeeeeee"))

	want := map[string]string{
		killed:                                       "remove",
		filepath.Join("leases", dl.ID+".json"):       "remove",
		filepath.Join("layers", bTop.Hex):            "remove",
		filepath.Join("layers", Short(aTop)):         "repair",
		filepath.Join("layers", "l", "eeeeeeeeeeee"): "remove",
	}
	dry, err := ls.GC(images, []string{cTop.String()}, true)
	if err != nil {
		t.Fatalf("GC(dry run) = %v", err)
	}
	if got := gcPaths(dry); !maps.Equal(got, want) {
		t.Errorf("GC(dry run) = %v, want %v", got, want)
	}
	for _, it := range dry {
		if it.Path == killed && it.Bytes != 5 {
			t.Errorf("GC says %s frees %d bytes, want 5", killed, it.Bytes)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "layers", bTop.Hex)); err != nil {
		t.Errorf("a dry run removed %s: %v", bTop, err)
	}

	done, err := ls.GC(images, []string{cTop.String()}, false)
	if err != nil || !maps.Equal(gcPaths(done), want) {
		t.Fatalf("GC() = %v, %v; want %v", gcPaths(done), err, want)
	}
	for _, gone := range []string{killed, filepath.Join("layers", bTop.Hex), filepath.Join("layers", Short(bTop)), filepath.Join("layers", "l", "eeeeeeeeeeee"), dl.Path()[len(root)+1:]} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("%s is left after GC: %v", gone, err)
		}
	}
	for _, kept := range []Layer{layers[0][0], layers[0][1], layers[2][1]} {
		if !ls.Has(kept.ChainID) {
			t.Errorf("GC removed layer %s, which is in use", kept.ChainID)
		}
	}
	if got, err := os.Readlink(filepath.Join(ls.Dir, Short(aTop))); err != nil || got != "../"+aTop.Hex+"/diff" {
		t.Errorf("short link of a's top = %q, %v; want it made again", got, err)
	}
	if _, err := os.Stat(filepath.Join(root, working)); err != nil {
		t.Errorf("GC removed %s, which a live unpack works on: %v", working, err)
	}
	if again, err := ls.GC(images, []string{cTop.String()}, false); err != nil || len(again) != 0 {
		t.Errorf("GC() again = %v, %v; want nothing to do", gcPaths(again), err)
	}

	// An image that cannot be read stops gc before any layer goes.
	a, _ := images.Resolve("a:1")
	os.Remove(images.BlobPath(a.Manifest.Config.Digest))
	if _, err := ls.GC(images, nil, false); err == nil || !strings.Contains(err.Error(), "no layer was removed") {
		t.Errorf("GC() with a broken image = %v, want 'no layer was removed'", err)
	}
	if !ls.Has(cTop) {
		t.Errorf("GC() with a broken image removed a layer")
	}
}

func TestEnsureLink(t *testing.T) {
	root := t.TempDir()
	images, _ := store.Open(root)
	putImage(t, images, "a:1", mkTar(t, file("a", "a", 0o644)))
	_, ls, layers, err := UnpackImage(root, "a:1", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := layers[0].ChainID
	if made, err := EnsureLink(ls.Dir, h); made || err != nil {
		t.Errorf("EnsureLink(a good link) = %v, %v; want nothing done", made, err)
	}
	link := filepath.Join(ls.Dir, Short(h))
	os.Remove(link)
	os.Symlink("../elsewhere", link)
	if made, err := EnsureLink(ls.Dir, h); !made || err != nil {
		t.Errorf("EnsureLink(a wrong link) = %v, %v; want it made again", made, err)
	}
	if b, err := os.ReadFile(filepath.Join(link, "a")); err != nil || string(b) != "a" {
		t.Errorf("through the short link: %q, %v", b, err)
	}
	other := h
	other.Hex = strings.Repeat("f", 64)
	if _, err := EnsureLink(ls.Dir, other); err == nil || !strings.Contains(err.Error(), "is not unpacked") {
		t.Errorf("EnsureLink(a layer not unpacked) = %v", err)
	}
}

func mustWriteFile(t *testing.T, file, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
