package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DiffStats counts what Diff wrote.
type DiffStats struct {
	Entries, Whiteouts, Opaques int
}

// Diff writes the upper directory of a container as an OCI layer tar: the
// inverse of Apply. Files and directories go in as they are (owners, modes,
// times, xattrs, hardlinks as links to the first name); an overlay whiteout
// (character device 0/0) becomes an empty file ".wh.NAME", and a directory
// marked trusted.overlay.opaque=y gets a ".wh..wh..opq" entry after it.
// Overlay's other private xattrs (trusted.overlay.origin, impure, …) are
// left out. Names are in lexical order, so the same upper gives the same
// bytes.
func Diff(upper string, w io.Writer) (DiffStats, error) {
	var st DiffStats
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{} // (dev, ino) → first name
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil || rel == "." {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		sys := fi.Sys().(*syscall.Stat_t)
		if fi.Mode()&fs.ModeCharDevice != 0 && sys.Rdev == 0 {
			st.Whiteouts++
			dir, base := filepath.Split(rel)
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dir + WhiteoutPrefix + base,
				ModTime: fi.ModTime().Truncate(time.Second), Format: tar.FormatPAX})
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("diff %s: %w", rel, err)
		}
		hdr.Name = rel
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.Format = tar.FormatPAX
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		xattrs, opaque, err := readXattrs(p)
		if err != nil {
			return fmt.Errorf("diff %s: %w", rel, err)
		}
		for k, v := range xattrs {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords["SCHILY.xattr."+k] = v
		}
		if fi.Mode().IsRegular() && sys.Nlink > 1 {
			key := [2]uint64{sys.Dev, sys.Ino}
			if first, ok := links[key]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				links[key] = rel
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("diff %s: %w", rel, err)
		}
		st.Entries++
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return fmt.Errorf("diff %s: %w", rel, err)
			}
		}
		if opaque {
			st.Opaques++
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel + "/" + OpaqueMarker,
				ModTime: fi.ModTime().Truncate(time.Second), Format: tar.FormatPAX}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	return st, tw.Close()
}

// readXattrs returns the xattrs of p (not following a symlink), without
// overlay's own, and whether p is an opaque directory.
func readXattrs(p string) (map[string]string, bool, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || size <= 0 {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(p, buf); err != nil {
		return nil, false, err
	}
	out := map[string]string{}
	opaque := false
	for _, k := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if k == "" {
			continue
		}
		v, err := getxattr(p, k)
		if err != nil {
			return nil, false, err
		}
		if k == OpaqueXattr {
			opaque = v == "y"
			continue
		}
		if strings.HasPrefix(k, overlayXattrs) {
			continue
		}
		out[k] = v
	}
	return out, opaque, nil
}

func getxattr(p, k string) (string, error) {
	size, err := unix.Lgetxattr(p, k, nil)
	if err != nil {
		return "", fmt.Errorf("getxattr %s %s: %w", p, k, err)
	}
	buf := make([]byte, size)
	size, err = unix.Lgetxattr(p, k, buf)
	if err != nil {
		return "", fmt.Errorf("getxattr %s %s: %w", p, k, err)
	}
	return string(buf[:size]), nil
}
