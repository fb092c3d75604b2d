package overlay

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Found says where a path of the merged tree comes from.
type Found struct {
	Layer   int    // index into the dirs given to Which (0 is the top)
	Path    string // the file in that layer's directory
	Deleted bool   // a whiteout in that layer hides the path
}

// Which looks up rel in the layer directories dirs, top first, the way
// overlayfs does for lookups: the first layer that has the name wins; a
// whiteout (character device 0/0) ends the search with "deleted"; a
// directory marked trusted.overlay.opaque=y hides every layer below it. It
// returns nil when no layer has the path. Symlinks are not followed, as
// with lstat(2).
func Which(dirs []string, rel string) (*Found, error) {
	rel = strings.Trim(filepath.Clean("/"+rel), "/")
	if rel == "" {
		return &Found{Layer: 0, Path: dirs[0]}, nil
	}
	parts := strings.Split(rel, "/")
	for i, d := range dirs {
		p := d
		hidesBelow := false
		for j, part := range parts {
			p = filepath.Join(p, part)
			fi, err := os.Lstat(p)
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			if err != nil {
				return nil, err
			}
			if isWhiteout(fi) {
				return &Found{Layer: i, Path: p, Deleted: true}, nil
			}
			if j == len(parts)-1 {
				return &Found{Layer: i, Path: p}, nil
			}
			if !fi.IsDir() {
				// A file where a directory was: it hides the lower ones.
				return nil, nil
			}
			if IsOpaque(p) {
				hidesBelow = true
			}
		}
		if hidesBelow {
			return nil, nil
		}
	}
	return nil, nil
}

func isWhiteout(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0
}

// IsOpaque reports whether dir carries trusted.overlay.opaque=y.
func IsOpaque(dir string) bool {
	buf := make([]byte, 8)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", buf)
	return err == nil && string(buf[:n]) == "y"
}
