package overlay

// Idmapped layers: the image as its own for a remapped root
//
// With a user namespace (ctr-run --userns, like dockerd --userns-remap),
// root inside the container is, say, uid 100000 outside. The image's files
// belong to uid 0 on disk, which the user namespace does not map: inside
// they would show as nobody (65534), and root there could change none of
// them. Docker unpacks a second copy of every layer, chowned. Linux 5.12
// has a cheaper way, the idmapped mount: a bind mount that shifts the
// owners it shows through a user namespace's map, without touching the
// disk. Overlayfs takes idmapped lower layers since Linux 5.19 (overlay
// itself cannot be idmapped: mount_setattr says EINVAL). So for each layer:
//
//	fd = open_tree(AT_FDCWD, "ROOT/layers/…/diff", OPEN_TREE_CLONE)
//	mount_setattr(fd, "", AT_EMPTY_PATH, {MOUNT_ATTR_IDMAP, userns_fd})
//	move_mount(fd, "", AT_FDCWD, "ROOT/containers/ID/idmapped/N", MOVE_MOUNT_F_EMPTY_PATH)
//
// (util-linux 2.39: mount --bind -o X-mount.idmap=0:100000:65536 LAYER DIR),
// and the overlay stacks those. Its upper dir belongs to 100000 on disk:
// what the container writes is owned, on the host, by the unprivileged uid
// its root is. mount_setattr wants the map as a user namespace, so a
// process is started in a new one with the map, only to lend it: it stops
// at its execve (PTRACE_TRACEME) and is killed once the namespace is open.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"ctrkit/internal/explain"
	"golang.org/x/sys/unix"
)

// IDMap is one line of a uid or gid map: INSIDE OUTSIDE COUNT.
type IDMap struct{ Inside, Outside, Count uint32 }

// ParseIDMap reads "INSIDE OUTSIDE COUNT" (colons work too).
func ParseIDMap(s string) (IDMap, error) {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ':' })
	var n [3]uint32
	if len(f) != 3 {
		return IDMap{}, fmt.Errorf("id map %q: want INSIDE OUTSIDE COUNT, e.g. \"0 100000 65536\"", s)
	}
	for i := range f {
		v, err := strconv.ParseUint(f[i], 10, 32)
		if err != nil {
			return IDMap{}, fmt.Errorf("id map %q: %q is not an id", s, f[i])
		}
		n[i] = uint32(v)
	}
	if n[0] != 0 || n[2] == 0 {
		return IDMap{}, fmt.Errorf("id map %q: map root (INSIDE 0) onto at least one id, e.g. \"0 100000 65536\"", s)
	}
	return IDMap{n[0], n[1], n[2]}, nil
}

func (m IDMap) String() string { return fmt.Sprintf("%d %d %d", m.Inside, m.Outside, m.Count) }

// IdmappedDir is where layer i of c is mounted idmapped.
func (c *Container) IdmappedDir() string { return filepath.Join(c.Dir, "idmapped") }

// mountIdmapped mounts each layer idmapped below IdmappedDir and returns
// their names there, bottom first, as shorts are.
func (c *Container) mountIdmapped(log *explain.Log, m IDMap) ([]string, error) {
	userns, stop, err := lendUserns(m)
	if err != nil {
		return nil, err
	}
	defer stop()
	dirs := c.LayerDirs()
	if len(dirs) == 0 {
		dirs = []string{filepath.Join(c.Layers, "empty")}
	}
	var names []string
	for i, src := range dirs {
		name := strconv.Itoa(i)
		dst := filepath.Join(c.IdmappedDir(), name)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, err
		}
		log.Step(fmt.Sprintf("open_tree(%q, OPEN_TREE_CLONE); mount_setattr(MOUNT_ATTR_IDMAP, %q); move_mount(%q)", src, m, dst), shiftedCopy(m, src, dst))
		fd, err := unix.OpenTree(unix.AT_FDCWD, src, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("open_tree %s: %w", src, err)
		}
		err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())})
		if err == nil {
			err = unix.MoveMount(fd, "", unix.AT_FDCWD, dst, unix.MOVE_MOUNT_F_EMPTY_PATH)
		}
		unix.Close(fd)
		if err != nil {
			c.unmountIdmapped(log)
			return nil, fmt.Errorf("idmapped mount of layer %s: %w (needs Linux 5.12 and a file system that supports idmapped mounts: ext4, xfs, btrfs, tmpfs from 6.3)", src, err)
		}
		names = append(names, name)
	}
	return names, nil
}

// shiftedCopy is the shell half of an idmapped mount. util-linux 2.39 has
// one (mount --bind -o X-mount.idmap=0:100000:65536 SRC DST), but Debian 12
// and Ubuntu 22.04 ship 2.38 and 2.37, whose mount ignores the X-mount.idmap
// option and makes a plain bind. So it prints what docker's userns-remap did
// before idmapped mounts: a copy of the layer whose owners are shifted by
// the map (the same view, paid for in disk space and time; chown clears
// set-user-ID bits, so a setuid program in the copy loses them).
func shiftedCopy(m IDMap, src, dst string) string {
	d := explain.Quote(dst)
	return fmt.Sprintf(`mkdir -p %s && cp -a %s/. %s/ && find %s -printf '%%U %%G\n' | sort -u | while read -r u g; do [ "$u" -ge %d ] || chown -hR --from="$u:$g" "$((u + %d)):$((g < %d ? g + %d : g))" %s; done  # util-linux 2.39: mount --bind -o X-mount.idmap=%d:%d:%d %s %s`,
		d, explain.Quote(src), d, d, m.Count, m.Outside, m.Count, m.Outside, d, m.Inside, m.Outside, m.Count, explain.Quote(src), d)
}

// unmountIdmapped removes what mountIdmapped made.
func (c *Container) unmountIdmapped(log *explain.Log) error {
	ents, err := os.ReadDir(c.IdmappedDir())
	if os.IsNotExist(err) {
		return nil
	}
	for _, e := range ents {
		dir := filepath.Join(c.IdmappedDir(), e.Name())
		if ok, _ := IsMountpoint(dir); ok {
			if err := Unmount(log, dir); err != nil {
				return err
			}
		}
	}
	return os.RemoveAll(c.IdmappedDir())
}

// lendUserns starts a process, stopped before it runs anything, in a new
// user namespace with map m for uids and gids, and opens that namespace.
func lendUserns(m IDMap) (*os.File, func(), error) {
	maps := []syscall.SysProcIDMap{{ContainerID: int(m.Inside), HostID: int(m.Outside), Size: int(m.Count)}}
	cmd := exec.Command("/proc/self/exe")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER, UidMappings: maps, GidMappings: maps,
		Ptrace: true, Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start a process in a user namespace for the id map: %w", err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	if err != nil {
		stop()
		return nil, nil, err
	}
	return f, func() { f.Close(); stop() }, nil
}
