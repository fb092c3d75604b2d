package layer

// The extractor's metadata: owner, mode, extended attributes and times of
// each entry, set through directory file descriptors (extract.go).

import (
	"archive/tar"
	"fmt"
	"iter"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

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
	// A link or node just made is ours already (as a file is,
	// extract_file.go): a chown only when the entry's owner differs, or a
	// set-gid directory above may have handed its group down. A directory
	// may be one made before, by another entry: always.
	fresh := hdr.Typeflag != tar.TypeDir && hdr.Uid == x.uid && hdr.Gid == x.gid && !x.setgid
	if x.isRoot && !x.opt.NoChown && !fresh {
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
