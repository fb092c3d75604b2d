package layer

// The extractor: every entry of a layer written with *at calls relative to
// directory file descriptors, so that nothing is written through a symlink
// or outside the layer directory (see the package doc, in unpack.go).

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"ctrkit/internal/explain"

	"golang.org/x/sys/unix"
)

// extractor writes entries below one directory file descriptor.
type extractor struct {
	root   *os.Root // for RemoveAll of a replaced directory
	rootFD int
	dirs   map[string]int // open directory fds by relative path
	times  []dirTime      // directory mtimes, set last
	opt    Options
	buf    []byte
	isRoot bool
	// What a new file gets without asking: the owner (fchown is skipped
	// when the header names it, unless a set-gid directory hands its group
	// down) and the umask (fchmod is skipped when it changes nothing).
	uid, gid int
	setgid   bool
	umask    uint32
}

type dirTime struct {
	path         string
	atime, mtime time.Time
}

func newExtractor(dir string, opt Options) (*extractor, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open layer directory %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		root.Close()
		return nil, fmt.Errorf("stat layer directory %s: %w", dir, err)
	}
	return &extractor{root: root, rootFD: fd, dirs: map[string]int{".": fd}, opt: opt,
		buf: make([]byte, 256<<10), isRoot: os.Geteuid() == 0,
		uid: os.Geteuid(), gid: os.Getegid(), setgid: st.Mode&unix.S_ISGID != 0, umask: umask()}, nil
}

func (x *extractor) close() {
	x.forget()
	unix.Close(x.rootFD)
	x.root.Close()
}

// forget closes every cached directory fd but the root's: after a
// directory was removed or replaced, a cached fd would point at a
// directory no longer in the tree.
func (x *extractor) forget() {
	for p, fd := range x.dirs {
		if p != "." {
			unix.Close(fd)
		}
	}
	x.dirs = map[string]int{".": x.rootFD}
}

// dir returns an fd of the directory rel (relative to the layer), creating
// missing directories (mode 0755, as tar does) and never following a
// symlink.
func (x *extractor) dir(name, rel string) (int, error) {
	if fd, ok := x.dirs[rel]; ok {
		return fd, nil
	}
	parent, base := path.Split(rel)
	parent = path.Clean(parent)
	if parent == "" {
		parent = "."
	}
	pfd, err := x.dir(name, parent)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		if err = unix.Mkdirat(pfd, base, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
			fd, err = unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		}
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
		var s unix.Stat_t
		if unix.Fstatat(pfd, base, &s, unix.AT_SYMLINK_NOFOLLOW) == nil && s.Mode&unix.S_IFMT == unix.S_IFLNK {
			return -1, &EntryError{Name: name, Reason: fmt.Sprintf("its path goes through the symlink %q", rel), Err: ErrUnsafe}
		}
		return -1, &EntryError{Name: name, Reason: fmt.Sprintf("%q is not a directory", rel)}
	}
	if err != nil {
		return -1, &EntryError{Name: name, Reason: "open directory " + rel, Err: err}
	}
	if len(x.dirs) > 256 {
		x.forget()
		// Re-resolve the parent: forget closed it, and it is cached again.
		if _, err := x.dir(name, parent); err != nil {
			unix.Close(fd)
			return -1, err
		}
	}
	x.dirs[rel] = fd
	return fd, nil
}

func splitRel(p string) (string, string) {
	d, b := path.Split(p)
	d = path.Clean(d)
	if d == "" {
		d = "."
	}
	return d, b
}

// clear removes whatever is at base in dirfd unless it is a directory and
// keepDir is set. It reports whether a directory is kept.
func (x *extractor) clear(dfd int, rel, base string, keepDir bool) (bool, error) {
	var s unix.Stat_t
	if err := unix.Fstatat(dfd, base, &s, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, err
	}
	if s.Mode&unix.S_IFMT == unix.S_IFDIR {
		if keepDir {
			return true, nil
		}
		x.forget()
		return false, x.root.RemoveAll(rel)
	}
	return false, unix.Unlinkat(dfd, base, 0)
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader, st *Stats) error {
	rel, err := Clean(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "." {
		if hdr.Typeflag == tar.TypeDir {
			return x.meta(hdr, x.rootFD, ".", ".")
		}
		return &EntryError{Name: hdr.Name, Reason: "the layer's top directory must be a directory"}
	}
	parent, base := splitRel(rel)
	dfd, err := x.dir(hdr.Name, parent)
	if err != nil {
		return err
	}

	// Whiteouts.
	if base == OpaqueMarker {
		st.Opaques++
		x.opt.Log.Step(fmt.Sprintf("setxattr(%q, %q, \"y\")", parent, OpaqueXattr), "setfattr -n "+OpaqueXattr+" -v y "+explain.Quote(parent))
		if err := unix.Fsetxattr(dfd, OpaqueXattr, []byte("y"), 0); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "mark the directory opaque (setxattr " + OpaqueXattr + " needs CAP_SYS_ADMIN)", Err: err}
		}
		return nil
	}
	if strings.HasPrefix(base, WhiteoutPrefix+WhiteoutPrefix) {
		return nil // other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): meaningless here
	}
	if name, ok := strings.CutPrefix(base, WhiteoutPrefix); ok {
		if name == "" || name == "." {
			return &EntryError{Name: hdr.Name, Reason: "whiteout of nothing"}
		}
		st.Whiteouts++
		if _, err := x.clear(dfd, path.Join(parent, name), name, false); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "replace by a whiteout", Err: err}
		}
		x.opt.Log.Step(fmt.Sprintf("mknodat(%q, %q, S_IFCHR, makedev(0, 0))", parent, name), "mknod "+explain.Quote(path.Join(parent, name))+" c 0 0")
		if err := unix.Mknodat(dfd, name, unix.S_IFCHR, 0); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "make the overlay whiteout (mknod needs CAP_MKNOD)", Err: err}
		}
		return nil
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		kept, err := x.clear(dfd, rel, base, true)
		if err != nil {
			return &EntryError{Name: hdr.Name, Reason: "replace", Err: err}
		}
		if !kept {
			if err := unix.Mkdirat(dfd, base, 0o700); err != nil {
				return &EntryError{Name: hdr.Name, Reason: "mkdir", Err: err}
			}
		}
		return x.meta(hdr, dfd, base, rel)
	case tar.TypeReg, tar.TypeGNUSparse: // tar.Reader reports the old TypeRegA ('\x00') as TypeReg
		return x.file(hdr, r, dfd, rel, base)
	case tar.TypeSymlink:
		if _, err := x.clear(dfd, rel, base, false); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "replace", Err: err}
		}
		// The target is stored as it is: it is only ever resolved inside
		// the container, against the container's root.
		if err := unix.Symlinkat(hdr.Linkname, dfd, base); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "symlink", Err: err}
		}
	case tar.TypeLink:
		target, err := Clean(hdr.Linkname)
		if err != nil {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("hardlink to %q", hdr.Linkname), Err: ErrUnsafe}
		}
		tparent, tbase := splitRel(target)
		tfd, err := x.dir(hdr.Name, tparent)
		if err != nil {
			return err
		}
		var s unix.Stat_t
		if err := unix.Fstatat(tfd, tbase, &s, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("hardlink target %q is not in the layer", hdr.Linkname), Err: err}
		}
		if s.Mode&unix.S_IFMT == unix.S_IFDIR {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("hardlink to the directory %q", hdr.Linkname)}
		}
		if target == rel {
			return nil
		}
		if _, err := x.clear(dfd, rel, base, false); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "replace", Err: err}
		}
		// linkat without AT_SYMLINK_FOLLOW links a symlink itself, never
		// what it points to.
		if err := unix.Linkat(tfd, tbase, dfd, base, 0); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "hardlink", Err: err}
		}
		return nil // a hardlink shares its target's inode and metadata
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
			if hdr.Devmajor == 0 && hdr.Devminor == 0 {
				return &EntryError{Name: hdr.Name, Reason: "a character device 0/0 is an overlay whiteout in disguise; layers delete files with .wh. entries"}
			}
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		if _, err := x.clear(dfd, rel, base, false); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "replace", Err: err}
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(dfd, base, mode|0o600, int(dev)); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "mknod (device nodes need CAP_MKNOD)", Err: err}
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("unsupported tar entry type %q", hdr.Typeflag)}
	}
	return x.meta(hdr, dfd, base, rel)
}
