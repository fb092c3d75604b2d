package layer

// The extractor: every entry of a layer written with *at calls relative to
// directory file descriptors, so that nothing is written through a symlink
// or outside the layer directory (see the package doc, in unpack.go).

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path"
	"strconv"
	"strings"
	"time"
	"unsafe"

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

// file writes a regular file with as few system calls as it takes, all on
// the new file's descriptor: openat (O_EXCL: whatever was there is cleared
// only when it fails with EEXIST), write, then fchown only when the owner
// is not the one the file got anyway, fchmod only when the mode given to
// openat did not survive the umask, fsetxattr, futimens, close. 20,000
// small files are 20,000 times this sequence: it is most of a layer's time.
func (x *extractor) file(hdr *tar.Header, r io.Reader, dfd int, rel, base string) error {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	perm := uint32(hdr.Mode) & 0o777
	fd, err := unix.Openat(dfd, base, flags, perm)
	if errors.Is(err, unix.EEXIST) {
		if _, err = x.clear(dfd, rel, base, false); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "replace", Err: err}
		}
		fd, err = unix.Openat(dfd, base, flags, perm)
	}
	if err != nil {
		return &EntryError{Name: hdr.Name, Reason: "create", Err: err}
	}
	defer unix.Close(fd)
	if _, err := io.CopyBuffer(fdWriter(fd), r, x.buf); err != nil {
		return &EntryError{Name: hdr.Name, Reason: "write", Err: err}
	}
	chowned := false
	if x.isRoot && !x.opt.NoChown && (hdr.Uid != x.uid || hdr.Gid != x.gid || x.setgid) {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("chown %d:%d", hdr.Uid, hdr.Gid), Err: err}
		}
		chowned = true
	}
	// chown clears the set-uid and set-gid bits, so chmod comes after it.
	mode := uint32(hdr.Mode) & 0o7777
	if chowned || mode != perm || perm&x.umask != 0 {
		if err := unix.Fchmod(fd, mode); err != nil {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("chmod %04o", mode), Err: err}
		}
	}
	for key, v := range xattrs(hdr) {
		if len(v) > maxXattrValue {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("xattr %s of %d bytes is larger than 64 KiB", key, len(v))}
		}
		if err := unix.Fsetxattr(fd, key, []byte(v), 0); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "setxattr " + key, Err: err}
		}
	}
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	// utimensat(fd, NULL, ...) sets the times of fd itself; x/sys has no
	// wrapper that passes a NULL path.
	ts := [2]unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return &EntryError{Name: hdr.Name, Reason: "set times", Err: e}
	}
	return nil
}

// fdWriter writes to a file descriptor, finishing short writes.
type fdWriter int

func (w fdWriter) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := unix.Write(int(w), p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, err
		}
		n += m
	}
	return n, nil
}

// xattrs yields the extended attributes a tar header carries (PAX
// SCHILY.xattr.*), overlay's own left out: they would change what the
// mount shows.
func xattrs(hdr *tar.Header) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for k, v := range hdr.PAXRecords {
			key, ok := strings.CutPrefix(k, "SCHILY.xattr.")
			if !ok || strings.HasPrefix(key, overlayXattrs) {
				continue
			}
			if !yield(key, v) {
				return
			}
		}
	}
}

// meta sets owner, mode, xattrs and times of base in dfd, in that order:
// chown clears the set-uid and set-gid bits, so chmod comes after it.
func (x *extractor) meta(hdr *tar.Header, dfd int, base, rel string) error {
	isLink := hdr.Typeflag == tar.TypeSymlink
	if x.isRoot && !x.opt.NoChown {
		if err := unix.Fchownat(dfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("chown %d:%d", hdr.Uid, hdr.Gid), Err: err}
		}
	}
	if !isLink {
		mode := uint32(hdr.Mode) & 0o7777
		if err := unix.Fchmodat(dfd, base, mode, 0); err != nil {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("chmod %04o", mode), Err: err}
		}
	}
	for key, v := range xattrs(hdr) {
		if len(v) > maxXattrValue {
			return &EntryError{Name: hdr.Name, Reason: fmt.Sprintf("xattr %s of %d bytes is larger than 64 KiB", key, len(v))}
		}
		if err := x.setxattr(dfd, base, key, []byte(v)); err != nil {
			return &EntryError{Name: hdr.Name, Reason: "setxattr " + key, Err: err}
		}
	}
	at := hdr.AccessTime
	if at.IsZero() {
		at = hdr.ModTime
	}
	if hdr.Typeflag == tar.TypeDir {
		if hdr.Mode&unix.S_ISGID != 0 {
			x.setgid = true // files below get its group: chown them all
		}
		x.times = append(x.times, dirTime{rel, at, hdr.ModTime})
		return nil
	}
	return setTimes(dfd, base, at, hdr.ModTime)
}

func setTimes(dfd int, base string, at, mt time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	if err := unix.UtimesNanoAt(dfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times of %s: %w", base, err)
	}
	return nil
}

// umask reads the process's umask from /proc/self/status (umask(2) can
// only read it by changing it, racing with other goroutines creating
// files). Unknown: all bits, so that fchmod is never skipped.
func umask() uint32 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
				return uint32(m)
			}
		}
	}
	return 0o777
}

// setxattr sets an xattr on base without following a symlink. There is no
// lsetxattrat before Linux 6.13, so the entry is opened with O_PATH|O_NOFOLLOW
// and named through /proc/self/fd/N: following that magic link lands on the
// opened inode itself (the symlink, if it is one), never on its target.
func (x *extractor) setxattr(dfd int, base string, key string, val []byte) error {
	flags := unix.O_PATH | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dfd, base, flags, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Setxattr(fmt.Sprintf("/proc/self/fd/%d", fd), key, val, 0)
}

// finish sets directory times last, deepest first: creating an entry
// changes its directory's mtime.
func (x *extractor) finish() error {
	for i := len(x.times) - 1; i >= 0; i-- {
		t := x.times[i]
		parent, base := splitRel(t.path)
		if t.path == "." {
			if err := setTimes(x.rootFD, ".", t.atime, t.mtime); err != nil {
				return err
			}
			continue
		}
		dfd, err := x.dir(t.path, parent)
		if err != nil {
			return err
		}
		if err := setTimes(dfd, base, t.atime, t.mtime); err != nil {
			return err
		}
	}
	return nil
}
