package layer

import (
	"archive/tar"
	"io"
	"os"
	"path/filepath"
	"testing"

	"ctrkit/internal/store"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// TestCommit commits a container's upper dir on top of an image, as
// `docker commit` does, and reads the new image back: its config, history
// and the new layer, unpacked again.
func TestCommit(t *testing.T) {
	root := t.TempDir()
	images, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	base := putImage(t, images, "a:1", mkTar(t, file("etc/os-release", "base", 0o644), file("a", "a", 0o644)))
	upper := t.TempDir()
	mustWriteFile(t, filepath.Join(upper, "etc/os-release"), "changed")
	mustWriteFile(t, filepath.Join(upper, "new"), "new file")
	whiteouts := 0
	if os.Geteuid() == 0 { // a whiteout is a character device 0/0: mknod needs root
		if err := unix.Mknod(filepath.Join(upper, "a"), unix.S_IFCHR|0o600, 0); err != nil {
			t.Fatal(err)
		}
		whiteouts = 1
	}
	res, err := Commit(images, base, upper, t.TempDir(), "docker.io/library/a:2", "ctr-run commit test")
	if err != nil {
		t.Fatalf("Commit() = %v", err)
	}
	if res.Stats.Whiteouts != whiteouts || res.Layer.MediaType != types.OCILayer {
		t.Errorf("Commit() = %+v, want %d whiteouts and an OCI layer", res, whiteouts)
	}
	img, err := images.Resolve("a:2")
	if err != nil {
		t.Fatalf("Resolve(a:2) = %v", err)
	}
	if img.Descriptor.Digest != res.Manifest.Digest || len(img.Manifest.Layers) != 2 || img.Manifest.Layers[1].Digest != res.Layer.Digest {
		t.Errorf("a:2's manifest = %+v, want base's layer and the new one", img.Manifest)
	}
	if ids := img.Config.RootFS.DiffIDs; len(ids) != 2 || ids[1] != res.DiffID {
		t.Errorf("a:2's diff ids = %v, want the new layer's %s on top", ids, res.DiffID)
	}
	if h := img.Config.History; len(h) == 0 || h[len(h)-1].CreatedBy != "ctr-run commit test" {
		t.Errorf("a:2's history = %+v, want the commit's line last", h)
	}

	// The blob is a gzip'd tar with the upper dir's files.
	rc, err := Open(images, res.Layer.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr, format, err := Decompress(rc)
	if err != nil || format != "gzip" {
		t.Fatalf("Decompress(new layer) = %q, %v; want gzip", format, err)
	}
	names := map[string]bool{}
	r := tar.NewReader(tr)
	for {
		h, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = true
	}
	if !names["new"] || !names["etc/os-release"] || names["a"] || (whiteouts == 1) != names[".wh.a"] {
		t.Errorf("the new layer's entries = %v, want new, etc/os-release and (as root) .wh.a", names)
	}

	// Unpacked again, the new layer is what the upper dir was.
	_, ls, layers, err := UnpackImage(root, "a:2", nil)
	if err != nil || len(layers) != 2 {
		t.Fatalf("UnpackImage(a:2) = %d layers, %v", len(layers), err)
	}
	diff := filepath.Join(ls.Dir, layers[1].ChainID.Hex, "diff")
	if b, err := os.ReadFile(filepath.Join(diff, "etc/os-release")); err != nil || string(b) != "changed" {
		t.Errorf("new layer's etc/os-release = %q, %v", b, err)
	}
	if whiteouts == 1 {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(diff, "a"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			t.Errorf("new layer's a: %v, mode %o; want a whiteout again (char 0/0)", err, st.Mode)
		}
	}

	if _, err := Commit(images, base, filepath.Join(upper, "missing"), t.TempDir(), "docker.io/library/a:3", "x"); err == nil {
		t.Errorf("Commit(missing upper) = nil error")
	}
	if _, err := images.Resolve("a:3"); err == nil {
		t.Errorf("a failed Commit left an image a:3")
	}
}
