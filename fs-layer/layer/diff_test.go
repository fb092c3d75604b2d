package layer

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// tree describes every entry under root: name, type, mode, owner, size,
// link target, device, content and xattrs (trusted.overlay.* included).
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		line := fmt.Sprintf("%s %v %d:%d rdev=%d", rel, fi.Mode(), st.Uid, st.Gid, st.Rdev)
		switch {
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			line += fmt.Sprintf(" %q nlink=%d", b, st.Nlink)
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		if !fi.IsDir() && !(fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0) { // a whiteout's time means nothing
			line += " mtime=" + fi.ModTime().UTC().String()
		}
		buf := make([]byte, 4096)
		n, _ := unix.Llistxattr(p, buf)
		var keys []string
		if n > 0 {
			keys = strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00")
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := make([]byte, 4096)
			m, _ := unix.Lgetxattr(p, k, v)
			line += fmt.Sprintf(" %s=%q", k, v[:max(m, 0)])
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDiffRoundTrip: Apply(Diff(upper)) gives upper back, whiteouts and
// opaque directories included, and Diff writes them as .wh. entries.
func TestDiffRoundTrip(t *testing.T) {
	needRoot(t)
	upper := t.TempDir()
	if _, err := Apply(upper, bytes.NewReader(everyFeature(t)), Options{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := Diff(upper, &buf)
	if err != nil {
		t.Fatalf("Diff(upper) = %v", err)
	}
	if st.Whiteouts != 1 || st.Opaques != 1 {
		t.Errorf("Diff(upper) stats = %+v, want 1 whiteout and 1 opaque dir", st)
	}
	names := map[string]byte{}
	tr := tar.NewReader(bytes.NewReader(buf.Bytes()))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names[h.Name] = h.Typeflag
	}
	for name, typ := range map[string]byte{"etc/.wh.motd": tar.TypeReg, "var/cache/.wh..wh..opq": tar.TypeReg,
		"bin/suid-link": tar.TypeLink, "dev/null": tar.TypeChar, "etc/localtime": tar.TypeSymlink} {
		if got, ok := names[name]; !ok || got != typ {
			t.Errorf("Diff(upper) entry %q = type %q (present %v), want type %q", name, got, ok, typ)
		}
	}
	again := t.TempDir()
	if _, err := Apply(again, bytes.NewReader(buf.Bytes()), Options{}); err != nil {
		t.Fatalf("Apply(Diff(upper)) = %v", err)
	}
	if d := cmp.Diff(tree(t, upper), tree(t, again)); d != "" {
		t.Errorf("Apply(Diff(upper)) differs from upper (-upper +again):\n%s", d)
	}
	// The same upper gives the same bytes.
	var buf2 bytes.Buffer
	if _, err := Diff(upper, &buf2); err != nil || !bytes.Equal(buf.Bytes(), buf2.Bytes()) {
		t.Errorf("Diff(upper) twice gave different tars (err %v)", err)
	}
}
