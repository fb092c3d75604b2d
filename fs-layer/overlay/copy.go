package overlay

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"ctrkit/internal/explain"

	"golang.org/x/sys/unix"
)

// CopyLayers is the copy driver: where overlayfs cannot be mounted (an
// upper dir on overlayfs itself, as in a container inside a container, or a
// kernel without it), the layers are copied one after the other, bottom
// first, into dst, doing by hand what overlay does on every lookup: a
// whiteout deletes, an opaque directory empties what was below it.
//
// The price: every container costs a full copy of its image (time and
// disk), where overlay costs nothing until a file is written. And there is
// no upper dir, so `fs-layer diff` cannot tell what the container changed.
func CopyLayers(log *explain.Log, dirs []string, dst string) error {
	for _, src := range dirs {
		log.Step(fmt.Sprintf("copy %s → %s", src, dst), "cp -a "+explain.Quote(src+"/.")+" "+explain.Quote(dst+"/"))
		if err := copyLayer(src, dst); err != nil {
			return fmt.Errorf("copy layer %s: %w", src, err)
		}
	}
	return nil
}

type dirMeta struct {
	path string
	fi   fs.FileInfo
}

func copyLayer(src, dst string) error {
	links := map[uint64]string{}
	var dirs []dirMeta
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if isWhiteout(fi) {
			return os.RemoveAll(target)
		}
		old, oerr := os.Lstat(target)
		if fi.IsDir() {
			if oerr == nil && (!old.IsDir() || (rel != "." && IsOpaque(p))) {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
				oerr = fs.ErrNotExist
			}
			if oerr != nil {
				if err := os.Mkdir(target, 0o700); err != nil {
					return err
				}
			}
			dirs = append(dirs, dirMeta{target, fi})
			return copyXattrs(p, target)
		}
		if oerr == nil {
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Nlink > 1 {
			if first, ok := links[st.Ino]; ok {
				return os.Link(first, target)
			}
			links[st.Ino] = target
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, target); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if err := copyFile(p, target); err != nil {
				return err
			}
		default:
			if err := unix.Mknod(target, st.Mode, int(st.Rdev)); err != nil {
				return err
			}
		}
		if err := copyXattrs(p, target); err != nil {
			return err
		}
		return setMeta(target, fi)
	})
	if err != nil {
		return err
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := setMeta(dirs[i].path, dirs[i].fi); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in) // copy_file_range(2) where the kernel can
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

func setMeta(p string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		if err := unix.Chmod(p, st.Mode&0o7777); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(st.Atim.Nano()), unix.NsecToTimespec(st.Mtim.Nano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func copyXattrs(src, dst string) error {
	size, err := unix.Llistxattr(src, nil)
	if err != nil || size <= 0 {
		return nil
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(src, buf); err != nil {
		return nil
	}
	for _, k := range strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00") {
		if k == "" || strings.HasPrefix(k, "trusted.overlay.") {
			continue
		}
		val := make([]byte, 64<<10)
		n, err := unix.Lgetxattr(src, k, val)
		if err != nil {
			continue
		}
		if err := unix.Lsetxattr(dst, k, val[:n], 0); err != nil && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setxattr %s %s: %w", dst, k, err)
		}
	}
	return nil
}
