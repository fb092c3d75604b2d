package container

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCloseOnExec(t *testing.T) {
	f, err := os.Open("/")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd := int(f.Fd())
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0); err != nil { // as an inherited descriptor
		t.Fatal(err)
	}
	if err := closeOnExec(nil, fd); err != nil {
		t.Fatalf("closeOnExec(%d) = %v, want nil", fd, err)
	}
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Errorf("after closeOnExec(%d): F_GETFD = %#x, %v, want FD_CLOEXEC set", fd, flags, err)
	}
}

func TestPassedFilesNotOpen(t *testing.T) {
	// Far beyond anything the test binary has open.
	if _, err := passedFiles(4000); err == nil {
		t.Errorf("passedFiles(4000) = nil error, want one naming a descriptor that is not open")
	}
}

// sealers are the two ways of hiding ns-enter's binary from the container.
var sealers = []struct {
	name string
	fn   func() (*os.File, error)
	root bool // needs CAP_SYS_ADMIN
}{
	{"overlay", func() (*os.File, error) { return overlaySelf(nil) }, true},
	{"memfd", func() (*os.File, error) { return memfdSelf(nil) }, false},
}

// TestSealedSelf: the copy is a different file (device and inode) than
// the binary, and nothing can write to it.
func TestSealedSelf(t *testing.T) {
	var host unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &host); err != nil {
		t.Fatal(err)
	}
	for _, s := range sealers {
		t.Run(s.name, func(t *testing.T) {
			if s.root {
				requireRoot(t)
			}
			f, err := s.fn()
			if err != nil {
				t.Fatalf("%sSelf() = %v", s.name, err)
			}
			defer f.Close()
			path := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
			var st unix.Stat_t
			if err := unix.Stat(path, &st); err != nil {
				t.Fatal(err)
			}
			if st.Dev == host.Dev && st.Ino == host.Ino {
				t.Errorf("%sSelf() is %d:%d, the binary itself", s.name, st.Dev, st.Ino)
			}
			w, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err == nil {
				_, err = w.Write([]byte("x"))
				w.Close()
			}
			// Not root, the copy's mode (0555) refuses the open already:
			// EACCES. Root passes that check and meets the seal.
			if err == nil {
				t.Errorf("writing to %sSelf() succeeded, want EROFS or EPERM", s.name)
			} else if !errors.Is(err, unix.EROFS) && !errors.Is(err, unix.EPERM) && (os.Geteuid() == 0 || !errors.Is(err, unix.EACCES)) {
				t.Errorf("writing to %sSelf() = %v, want EROFS or EPERM (EACCES when not root)", s.name, err)
			}
			// The descriptor itself, writable for the memfd, meets the seal as anyone.
			if _, err := f.WriteAt([]byte("x"), 0); err == nil {
				t.Errorf("writing through %sSelf()'s descriptor succeeded", s.name)
			}
		})
	}
}

// BenchmarkSealedSelf is the cost each container start pays:
//
//	go test -run - -bench SealedSelf ./ns-enter/container
func BenchmarkSealedSelf(b *testing.B) {
	for _, s := range sealers {
		b.Run(s.name, func(b *testing.B) {
			if s.root && os.Geteuid() != 0 {
				b.Skip("needs root")
			}
			for b.Loop() {
				f, err := s.fn()
				if err != nil {
					b.Fatal(err)
				}
				f.Close()
			}
		})
	}
}
