package seccomp

// Compiled programs, kept by the profile they came from.
//
// libseccomp takes ~20 ms of CPU to turn docker's profile into BPF (its
// rules, then the instructions), at every container start: crun pays it
// too. The program depends only on the profile, on the libseccomp that
// compiled it (its version, and the kernel features it found: the API
// level) and on ns-enter's own translation, so stage 0 keeps each program it
// made in ROOT/cache/seccomp/KEY.json, KEY being the sha256 of all of
// those, and the next container with the same profile reads the file
// instead of calling libseccomp. The profile was checked when the program
// was first made; the same profile gives the same answer.
//
// A cached program is a filter every later container gets, so the cache
// is root's alone: the directory is made 0700, and a directory that is not
// the caller's or that others may enter, or a file that others may write,
// is ignored (the program is compiled as if there were no cache); both are
// checked on the descriptors the program is read through. Files are
// written to a temporary name and renamed (fsutil.WriteFile), so a reader
// never sees half of one; one that does not parse, or is not whole BPF
// instructions, is a miss. The directory keeps at most maxCached programs,
// the oldest going first. Removing it loses nothing: rm -r
// ROOT/cache/seccomp.
//
// ns-enter's translation is identified by its binary (device, inode, size
// and modification time of /proc/self/exe): a rebuilt ns-enter compiles
// afresh.

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"ctrkit/internal/fsutil"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// CacheDir is where the programs compiled for containers of the store
// ROOT are kept.
func CacheDir(root string) string { return filepath.Join(root, "cache", "seccomp") }

// maxCached bounds the cache: a host runs few distinct profiles.
const maxCached = 64

// Cache is a directory of compiled programs; the zero Cache keeps none.
type Cache struct{ Dir string }

// Key names p's program in the cache ("" when no key can be made: then
// nothing is cached).
func (c Cache) Key(p *specs.LinuxSeccomp) string {
	if c.Dir == "" {
		return ""
	}
	var exe unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &exe); err != nil {
		return ""
	}
	profile, err := json.Marshal(p)
	if err != nil {
		return ""
	}
	major, minor, micro := libseccomp.GetLibraryVersion()
	api, _ := libseccomp.GetAPI()
	h := sha256.New()
	fmt.Fprintf(h, "ctrkit seccomp program 1\nlibseccomp %d.%d.%d api %d %s\nns-enter %d %d %d %d.%09d\n",
		major, minor, micro, api, runtime.GOARCH, exe.Dev, exe.Ino, exe.Size, exe.Mtim.Sec, exe.Mtim.Nsec)
	h.Write(profile)
	return hex.EncodeToString(h.Sum(nil))
}

// Get returns the program cached under key, or nil.
func (c Cache) Get(key string) *Program {
	if key == "" {
		return nil
	}
	// The directory is checked through the descriptor the file is then
	// opened in, so it cannot be swapped between the check and the open.
	dir, err := privateDir(c.Dir)
	if err != nil {
		return nil
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), key+".json", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), key+".json")
	defer f.Close()
	if !owned(f, unix.S_IFREG, 0o022) {
		return nil
	}
	var p Program
	if err := json.NewDecoder(f).Decode(&p); err != nil || len(p.BPF) == 0 || len(p.BPF)%sockFilterSize != 0 {
		return nil
	}
	return &p
}

// Put keeps p under key. The cache is an optimisation: an error only
// means the next start compiles again.
func (c Cache) Put(key string, p *Program) error {
	if key == "" {
		return nil
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return err
	}
	dir, err := privateDir(c.Dir)
	if err != nil {
		return err
	}
	dir.Close()
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(filepath.Join(c.Dir, key+".json"), data, 0o600); err != nil {
		return err
	}
	return c.prune(key + ".json")
}

// prune removes the oldest programs beyond maxCached, never keep (the one
// just written: file times are coarser than a burst of writes).
func (c Cache) prune(keep string) error {
	es, err := os.ReadDir(c.Dir)
	if err != nil || len(es) <= maxCached {
		return err
	}
	type entry struct {
		name string
		mod  int64
	}
	var all []entry
	for _, e := range es {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".json") && e.Name() != keep {
			all = append(all, entry{e.Name(), info.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(all, func(a, b entry) int { return cmp.Compare(b.mod, a.mod) }) // newest first
	var errs []error
	for _, e := range all[min(maxCached-1, len(all)):] {
		if err := os.Remove(filepath.Join(c.Dir, e.name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// privateDir opens dir if it is a directory of the caller's that no one
// else may enter.
func privateDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	if !owned(f, unix.S_IFDIR, 0o077) {
		f.Close()
		return nil, fmt.Errorf("%s is not root's alone (0700): no seccomp programs are cached there", dir)
	}
	return f, nil
}

// owned says whether f is of the type (S_IFDIR, S_IFREG), the caller's,
// and has none of the mode bits in others (group's and others' write, or
// all of theirs).
func owned(f *os.File, typ uint32, others uint32) bool {
	var st unix.Stat_t
	return unix.Fstat(int(f.Fd()), &st) == nil && st.Mode&unix.S_IFMT == typ &&
		int(st.Uid) == os.Geteuid() && st.Mode&others == 0
}
