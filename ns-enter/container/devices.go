package container

import (
	"fmt"
	"os"
	"path/filepath"

	"ctrkit/internal/explain"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// defaultDevices are the nodes every container gets in its /dev, as in
// runc and docker.
var defaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0},
}

// devLinks are the symbolic links programs expect in /dev.
var devLinks = [][2]string{
	{"/proc/self/fd", "/dev/fd"},
	{"/proc/self/fd/0", "/dev/stdin"},
	{"/proc/self/fd/1", "/dev/stdout"},
	{"/proc/self/fd/2", "/dev/stderr"},
	{"pts/ptmx", "/dev/ptmx"}, // the ptmx of the container's own devpts instance
}

// makeDev fills the container's fresh /dev tmpfs. Outside a user namespace
// the nodes are made with mknod(2); inside one the kernel forbids making
// device nodes, so the host's nodes are bind-mounted instead (runc does
// the same).
func makeDev(log *explain.Log, root string, s *specs.Spec, userns bool) error {
	devs := defaultDevices
	if s.Linux != nil {
		devs = append(devs[:len(devs):len(devs)], s.Linux.Devices...)
	}
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devs {
		dest, err := inRoot(root, d.Path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(dest), err)
		}
		if userns {
			if err := bindMount(log, d.Path, dest, unix.MS_BIND, 0); err != nil {
				return err
			}
			continue
		}
		if err := mknod(log, dest, d); err != nil {
			return err
		}
	}
	for _, l := range devLinks {
		dest := filepath.Join(root, l[1])
		log.Step(fmt.Sprintf("symlink(%q, %q)", l[0], dest), "ln -s "+l[0]+" "+explain.Quote(dest))
		if err := os.Symlink(l[0], dest); err != nil && !os.IsExist(err) {
			return fmt.Errorf("link %s: %w", dest, err)
		}
	}
	return nil
}

func mknod(log *explain.Log, dest string, d specs.LinuxDevice) error {
	mode := uint32(0o666)
	if d.FileMode != nil {
		mode = uint32(*d.FileMode) & 0o7777
	}
	var kind uint32
	switch d.Type {
	case "c", "u":
		kind = unix.S_IFCHR
	case "b":
		kind = unix.S_IFBLK
	case "p":
		kind = unix.S_IFIFO
	default:
		return fmt.Errorf("device %s: unknown type %q (use c, b, u or p)", d.Path, d.Type)
	}
	log.Step(fmt.Sprintf("mknod(%q, S_IF%s|%#o, makedev(%d, %d))", dest, map[uint32]string{unix.S_IFCHR: "CHR", unix.S_IFBLK: "BLK", unix.S_IFIFO: "IFO"}[kind], mode, d.Major, d.Minor),
		fmt.Sprintf("mknod -m %o %s %s %d %d", mode, explain.Quote(dest), d.Type, d.Major, d.Minor))
	if err := unix.Mknod(dest, kind|mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil && !os.IsExist(err) {
		return fmt.Errorf("mknod %s %s %d %d: %w", dest, d.Type, d.Major, d.Minor, err)
	}
	uid, gid := uint32(0), uint32(0)
	if d.UID != nil {
		uid = *d.UID
	}
	if d.GID != nil {
		gid = *d.GID
	}
	return os.Lchown(dest, int(uid), int(gid))
}
