package layer

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: chown, mknod and trusted.* xattrs (sudo go test)")
	}
}

var mtime = time.Date(2020, 2, 2, 12, 0, 0, 0, time.UTC)

// ent is one tar entry for mkTar; body is the content of a regular file.
type ent struct {
	hdr  tar.Header
	body string
}

func file(name, body string, mode int64) ent {
	return ent{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(body)), ModTime: mtime}, body}
}
func dir(name string, mode int64) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: mtime}}
}
func symlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: mtime}}
}
func hardlink(name, target string) ent {
	return ent{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, ModTime: mtime}}
}

func mkTar(t *testing.T, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.hdr
		if h.Format == tar.FormatUnknown {
			h.Format = tar.FormatPAX
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("WriteHeader(%q): %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func digest(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// everyFeature is a layer with every kind of tar entry Apply knows.
func everyFeature(t *testing.T) []byte {
	xf := file("etc/xattr", "x", 0o644)
	xf.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.color": "blue", "SCHILY.xattr.trusted.note": "t"}
	suid := file("bin/suid", "#!/bin/sh\n", 0o4755)
	suid.hdr.Uid, suid.hdr.Gid = 0, 0
	owned := file("home/u/owned", "mine", 0o640)
	owned.hdr.Uid, owned.hdr.Gid = 1000, 1001
	home := dir("home/u/", 0o750)
	home.hdr.Uid, home.hdr.Gid = 1000, 1001
	return mkTar(t,
		dir("./", 0o755),
		dir("bin/", 0o755),
		suid,
		dir("etc/", 0o755),
		file("etc/hosts", "127.0.0.1 localhost\n", 0o644),
		xf,
		symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
		symlink("bin/sh", "busybox"),
		hardlink("bin/suid-link", "bin/suid"),
		dir("home/", 0o755),
		home,
		owned,
		ent{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "dev/null", Mode: 0o666, Devmajor: 1, Devminor: 3, ModTime: mtime}},
		ent{hdr: tar.Header{Typeflag: tar.TypeBlock, Name: "dev/loop0", Mode: 0o660, Devmajor: 7, Devminor: 0, ModTime: mtime}},
		ent{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "run/fifo", Mode: 0o600, ModTime: mtime}},
		dir("tmp/", 0o1777),
		file("deep/no/parent/entries", "ok", 0o600),
		file("etc/.wh.motd", "", 0),
		dir("var/cache/", 0o755),
		file("var/cache/.wh..wh..opq", "", 0),
		file("var/cache/kept", "new", 0o644),
		file("etc/hosts", "replaced\n", 0o600), // a later entry wins
	)
}

func TestApplyEveryFeature(t *testing.T) {
	needRoot(t)
	raw := everyFeature(t)
	for _, tc := range []struct {
		name string
		blob []byte
	}{{"tar", raw}, {"gzip", gz(t, raw)}, {"zstd", zst(t, raw)}} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			st, err := Apply(d, bytes.NewReader(tc.blob), Options{DiffID: digest(raw)})
			if err != nil {
				t.Fatalf("Apply(%s) = %v, want nil", tc.name, err)
			}
			if st.Whiteouts != 1 || st.Opaques != 1 || st.Bytes != int64(len(raw)) {
				t.Errorf("Apply(%s) stats = %+v, want 1 whiteout, 1 opaque, %d bytes", tc.name, st, len(raw))
			}
			checkEveryFeature(t, d)
		})
	}
}

func checkEveryFeature(t *testing.T, d string) {
	t.Helper()
	lst := func(p string) (fs.FileInfo, *syscall.Stat_t) {
		fi, err := os.Lstat(filepath.Join(d, p))
		if err != nil {
			t.Fatalf("lstat %s: %v", p, err)
		}
		return fi, fi.Sys().(*syscall.Stat_t)
	}
	if fi, _ := lst("bin/suid"); fi.Mode() != 0o755|fs.ModeSetuid {
		t.Errorf("bin/suid mode = %v, want -rwsr-xr-x", fi.Mode())
	}
	if _, s := lst("home/u/owned"); s.Uid != 1000 || s.Gid != 1001 || s.Mode&0o7777 != 0o640 {
		t.Errorf("home/u/owned = uid %d gid %d mode %o, want 1000 1001 640", s.Uid, s.Gid, s.Mode&0o7777)
	}
	if fi, s := lst("home/u"); s.Uid != 1000 || fi.Mode().Perm() != 0o750 || !fi.ModTime().Equal(mtime) {
		t.Errorf("home/u = uid %d mode %v mtime %v, want 1000 0750 %v", s.Uid, fi.Mode(), fi.ModTime(), mtime)
	}
	if fi, _ := lst("tmp"); fi.Mode() != fs.ModeDir|fs.ModeSticky|0o777 {
		t.Errorf("tmp mode = %v, want dtrwxrwxrwx", fi.Mode())
	}
	if l, _ := os.Readlink(filepath.Join(d, "etc/localtime")); l != "/usr/share/zoneinfo/UTC" {
		t.Errorf("etc/localtime -> %q, want /usr/share/zoneinfo/UTC", l)
	}
	_, a := lst("bin/suid")
	_, b := lst("bin/suid-link")
	if a.Ino != b.Ino {
		t.Errorf("bin/suid-link is not a hardlink of bin/suid")
	}
	if _, s := lst("dev/null"); s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null = mode %o rdev %d, want char 1:3", s.Mode, s.Rdev)
	}
	if _, s := lst("dev/loop0"); s.Mode&unix.S_IFMT != unix.S_IFBLK || s.Rdev != unix.Mkdev(7, 0) {
		t.Errorf("dev/loop0 = mode %o rdev %d, want block 7:0", s.Mode, s.Rdev)
	}
	if fi, _ := lst("run/fifo"); fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("run/fifo mode = %v, want a fifo", fi.Mode())
	}
	if _, s := lst("etc/motd"); s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != 0 {
		t.Errorf("etc/motd = mode %o rdev %d, want an overlay whiteout (char 0:0)", s.Mode, s.Rdev)
	}
	if _, err := os.Lstat(filepath.Join(d, "etc/.wh.motd")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("etc/.wh.motd exists, want it turned into a whiteout")
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(d, "var/cache"), OpaqueXattr, buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("var/cache %s = %q, %v; want \"y\"", OpaqueXattr, buf[:max(n, 0)], err)
	}
	if n, err := unix.Lgetxattr(filepath.Join(d, "etc/xattr"), "user.color", buf); err != nil || string(buf[:n]) != "blue" {
		t.Errorf("etc/xattr user.color = %q, %v; want blue", buf[:max(n, 0)], err)
	}
	if b, _ := os.ReadFile(filepath.Join(d, "etc/hosts")); string(b) != "replaced\n" {
		t.Errorf("etc/hosts = %q, want the later entry's content", b)
	}
	if fi, _ := lst("etc/hosts"); !fi.ModTime().Equal(mtime) {
		t.Errorf("etc/hosts mtime = %v, want %v", fi.ModTime(), mtime)
	}
}

func TestApplyDiffIDMismatch(t *testing.T) {
	raw := mkTar(t, file("a", "a", 0o644))
	other := digest([]byte("something else"))
	_, err := Apply(t.TempDir(), bytes.NewReader(raw), Options{DiffID: other, NoChown: true})
	if err == nil || !strings.Contains(err.Error(), "does not match its diff id") {
		t.Errorf("Apply(wrong diff id) = %v, want a diff id mismatch", err)
	}
}

func TestApplyTruncated(t *testing.T) {
	raw := gz(t, mkTar(t, file("a", strings.Repeat("x", 10000), 0o644)))
	_, err := Apply(t.TempDir(), bytes.NewReader(raw[:len(raw)/2]), Options{NoChown: true})
	if err == nil || !strings.Contains(err.Error(), "corrupt or truncated") {
		t.Errorf("Apply(truncated gzip) = %v, want corrupt or truncated", err)
	}
}

// snapshot lists every path under root with its type, mode, size and
// content hash, to prove that nothing changed.
func snapshot(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, _ := d.Info()
		line := p + " " + fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			line += " " + digest(b).Hex[:12]
		}
		out = append(out, line)
		return nil
	})
	sort.Strings(out)
	return out
}

func TestApplyHostile(t *testing.T) {
	for _, tc := range []struct {
		name string
		ents []ent
		want string
	}{
		{"dot-dot", []ent{file("../outside/evil", "x", 0o644)}, `".."`},
		{"dot-dot inside", []ent{file("a/../../outside/evil", "x", 0o644)}, `".."`},
		{"absolute", []ent{file("/outside/evil", "x", 0o644)}, "absolute"},
		{"symlink then write", []ent{symlink("lnk", "../outside"), file("lnk/evil", "x", 0o644)}, "symlink"},
		{"absolute symlink then write", []ent{symlink("lnk", "/"), file("lnk/tmp/evil", "x", 0o644)}, "symlink"},
		{"symlink dir then mkdir", []ent{symlink("lnk", ".."), dir("lnk/outside/sub/", 0o755)}, "symlink"},
		{"hardlink escape", []ent{hardlink("pw", "../outside/sentinel")}, "hardlink"},
		{"hardlink absolute", []ent{hardlink("pw", "/etc/passwd")}, "hardlink"},
		{"hardlink through symlink", []ent{symlink("lnk", "../outside"), hardlink("pw", "lnk/sentinel")}, "symlink"},
		{"whiteout device", []ent{{hdr: tar.Header{Typeflag: tar.TypeChar, Name: "fake", Mode: 0o644}}}, "whiteout in disguise"},
		{"whiteout escape", []ent{file("../.wh.outside", "", 0)}, `".."`},
		{"giant header", nil, "corrupt"},
		{"name too long", []ent{file(strings.Repeat("a/", 2100)+"x", "x", 0o644)}, "PATH_MAX"},
		{"part too long", []ent{file(strings.Repeat("a", 300), "x", 0o644)}, "NAME_MAX"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			layerDir := filepath.Join(top, "layer", "diff")
			outside := filepath.Join(top, "outside")
			for _, d := range []string{layerDir, outside} {
				if err := os.MkdirAll(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			os.WriteFile(filepath.Join(outside, "sentinel"), []byte("untouched"), 0o644)
			raw := mkTar(t, tc.ents...)
			if tc.ents == nil {
				raw = giantPAX(t)
			}
			before := snapshot(t, outside)
			_, err := Apply(layerDir, bytes.NewReader(raw), Options{NoChown: os.Geteuid() != 0})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply(%s) = %v, want an error mentioning %q", tc.name, err, tc.want)
			}
			if diff := cmp.Diff(before, snapshot(t, outside)); diff != "" {
				t.Errorf("Apply(%s) changed a directory outside the layer (-before +after):\n%s", tc.name, diff)
			}
			ents, _ := os.ReadDir(top)
			if len(ents) != 2 {
				t.Errorf("Apply(%s) left %d entries next to the layer, want 2 (layer, outside)", tc.name, len(ents))
			}
		})
	}
}

func TestClean(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"./a/b", "a/b"}, {"a//b/", "a/b"}, {"./", "."}, {"a/./b", "a/b"},
	} {
		got, err := Clean(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Clean(%q) = %q, %v, want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"../a", "a/../../b", "/etc/passwd", "a/..", "x\x00y"} {
		if _, err := Clean(bad); err == nil {
			t.Errorf("Clean(%q) = nil error, want refusal", bad)
		}
	}
}

func TestChainIDs(t *testing.T) {
	a, b := digest([]byte("a")), digest([]byte("b"))
	got := ChainIDs([]v1.Hash{a, b})
	want := digest([]byte(a.String() + " " + b.String()))
	if got[0] != a || got[1] != want {
		t.Errorf("ChainIDs(a, b) = %v, want [%v %v]", got, a, want)
	}
}

// giantPAX is a tar whose first entry is a PAX extended header of 2 MiB:
// archive/tar refuses to write one, so the type flag is patched in.
func giantPAX(t *testing.T) []byte {
	rec := " comment=" + strings.Repeat("x", 2<<20) + "\n"
	n := len(rec)
	for len(strconv.Itoa(n)+rec) != n {
		n = len(strconv.Itoa(n) + rec)
	}
	body := strconv.Itoa(n) + rec
	raw := mkTar(t, ent{tar.Header{Typeflag: tar.TypeReg, Name: "PaxHeaders/big", Mode: 0o644, Size: int64(len(body)), Format: tar.FormatUSTAR}, body},
		file("big", "", 0o644))
	raw[156] = tar.TypeXHeader
	copy(raw[148:156], "        ")
	sum := 0
	for _, b := range raw[:512] {
		sum += int(b)
	}
	copy(raw[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return raw
}

// TestApplyOwnerShortcuts checks what the fast path for regular files
// skips: a root-owned file gets no fchown, unless a set-gid directory above
// it would have handed down its group; a mode the umask would narrow, or
// without write permission, still ends exact; mtimes are set on the fd.
func TestApplyOwnerShortcuts(t *testing.T) {
	needRoot(t)
	sg := dir("shared/", 0o2775)
	sg.hdr.Gid = 1001
	inSG := file("shared/root-file", "r", 0o664)
	ro := file("ro", "read only", 0o444)
	wide := file("wide", "w", 0o666)
	raw := mkTar(t, ro, wide, sg, inSG)
	d := t.TempDir()
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	if _, err := Apply(d, bytes.NewReader(gz(t, raw)), Options{DiffID: digest(raw)}); err != nil {
		t.Fatalf("Apply = %v", err)
	}
	for _, c := range []struct {
		path     string
		mode     uint32
		uid, gid uint32
	}{{"ro", 0o444, 0, 0}, {"wide", 0o666, 0, 0}, {"shared", 0o2775, 0, 1001}, {"shared/root-file", 0o664, 0, 0}} {
		fi, err := os.Lstat(filepath.Join(d, c.path))
		if err != nil {
			t.Fatal(err)
		}
		s := fi.Sys().(*syscall.Stat_t)
		if s.Mode&0o7777 != c.mode || s.Uid != c.uid || s.Gid != c.gid {
			t.Errorf("%s = mode %04o uid %d gid %d, want %04o %d %d", c.path, s.Mode&0o7777, s.Uid, s.Gid, c.mode, c.uid, c.gid)
		}
		if c.path != "shared" && !fi.ModTime().Equal(mtime) {
			t.Errorf("%s mtime = %v, want %v", c.path, fi.ModTime(), mtime)
		}
	}
}
