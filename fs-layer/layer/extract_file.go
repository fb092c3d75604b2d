package layer

// The extractor's regular files: their content written through a file
// descriptor opened with openat(2) below the layer's directory (extract.go).

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"golang.org/x/sys/unix"
)

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
