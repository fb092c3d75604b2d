package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/internal/mountinfo"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// setupMounts prepares the new mount namespace. With a root filesystem it
// follows runc's order: make every mount private, bind the root onto itself
// (pivot_root wants a mount point), mount the spec's mounts inside it, fill
// /dev, pivot_root, then mask and write-protect. Without one, the spec's
// mounts land on the current tree, as `unshare --mount --mount-proc` does.
// beforePivot runs after the mounts, just before pivot_root: the moment of
// the createContainer hooks.
func setupMounts(log *explain.Log, s *specs.Spec, root string, noPivot, userns bool, beforePivot func() error) error {
	prop := uintptr(unix.MS_REC | unix.MS_PRIVATE)
	if s.Linux != nil && s.Linux.RootfsPropagation != "" {
		p, ok := propagationFlags[s.Linux.RootfsPropagation]
		if !ok {
			return fmt.Errorf("linux.rootfsPropagation %q: use one of private, rprivate, slave, rslave, shared, rshared", s.Linux.RootfsPropagation)
		}
		prop = p
	}
	// Private first, so nothing mounted below leaks back to the host.
	if err := mount(log, "", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if root == "" {
		for _, m := range s.Mounts {
			if err := mountOne(log, "/", m, userns, ownCgroupNS(s)); err != nil {
				return err
			}
		}
		return beforePivot()
	}
	if root == "." {
		if err := bindCwd(log); err != nil { // userns.go
			return err
		}
	} else if err := mount(log, root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	if err := mountAll(log, root, s, userns); err != nil {
		return err
	}
	if err := beforePivot(); err != nil {
		return err
	}
	switchRoot := pivotRoot
	if noPivot {
		switchRoot = moveRoot
	}
	if err := switchRoot(log, root); err != nil {
		return err
	}
	if prop != unix.MS_REC|unix.MS_PRIVATE {
		if err := mount(log, "", "/", "", prop, ""); err != nil {
			return err
		}
	}
	if s.Linux != nil {
		if err := setSysctl(log, s.Linux.Sysctl); err != nil {
			return err
		}
		for _, p := range s.Linux.MaskedPaths {
			if err := maskPath(log, p); err != nil {
				return err
			}
		}
		for _, p := range s.Linux.ReadonlyPaths {
			if err := readonlyPath(log, p); err != nil {
				return err
			}
		}
	}
	if s.Root != nil && s.Root.Readonly {
		return mount(log, "", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|lockedFlags("/"), "")
	}
	return nil
}

// mountOne mounts one entry of the spec's "mounts" below root. cgroupNS
// says whether the container has a cgroup namespace of its own.
func mountOne(log *explain.Log, root string, m specs.Mount, userns, cgroupNS bool) error {
	dest, err := inRoot(root, m.Destination)
	if err != nil {
		return err
	}
	flags, prop, data := parseMountOptions(m.Options)
	if m.Type == "bind" || flags&unix.MS_BIND != 0 {
		return bindMount(log, m.Source, dest, flags, prop)
	}
	if err := makeMountPoint(log, dest, true); err != nil {
		return err
	}
	if m.Type == "cgroup" && !unifiedCgroup() {
		return mountCgroupV1(log, dest, flags, bindCgroup2(userns, cgroupNS)) // cgroupfs.go
	}
	fstype := m.Type
	if fstype == "cgroup" {
		fstype = "cgroup2"
	}
	if fstype == "cgroup2" && bindCgroup2(userns, cgroupNS) {
		if host := hostCgroup2(); host != "" {
			return bindMount(log, host, dest, flags, 0)
		}
	}
	// A mount that may be refused and done another way below is explained
	// once it worked: a replayed transcript stops at the first failure.
	tried := log
	if m.Type == "sysfs" || userns && (m.Type == "proc" || m.Type == "mqueue") || m.Type == "devpts" && strings.Contains(data, "gid=") {
		tried = nil
	}
	if err = mount(tried, m.Source, dest, fstype, flags, data); err == nil && tried == nil {
		explainMount(log, m.Source, dest, fstype, flags, data)
	}
	switch {
	case err != nil && m.Type == "sysfs" && errors.Is(err, unix.EPERM):
		// sysfs may only be mounted by the owner of the network namespace;
		// in a user namespace sharing the host's network, bind the host's.
		log.Note("no permission for a new sysfs (the network namespace is the host's): bind the host's /sys instead")
		if err = bindMount(log, "/sys", dest, unix.MS_BIND|unix.MS_REC|flags&unix.MS_RDONLY, 0); err != nil {
			return err
		}
	case err != nil && m.Type == "proc" && errors.Is(err, unix.EPERM) && userns:
		// procfs belongs to the pid namespace's user namespace; without a
		// pid namespace of our own, bind the host's /proc instead.
		log.Note("no permission for a new /proc (the pid namespace is the host's): bind the host's /proc instead")
		err = bindMount(log, "/proc", dest, unix.MS_BIND|unix.MS_REC, 0)
	case err != nil && m.Type == "devpts" && errors.Is(err, unix.EINVAL) && strings.Contains(data, "gid="):
		// gid=5 (tty) may not be mapped in a user namespace.
		log.Note("devpts refused gid=: the group is not mapped in this user namespace; mount without it")
		err = mount(log, m.Source, dest, fstype, flags, removeOption(data, "gid="))
	case err != nil && m.Type == "mqueue" && userns:
		// mqueue belongs to the IPC namespace's user namespace.
		log.Note("no permission for a new mqueue filesystem (the IPC namespace is the host's): %s stays empty", m.Destination)
		err = nil
	}
	if err != nil {
		return err
	}
	if prop != 0 {
		return mount(log, "", dest, "", prop, "")
	}
	return nil
}

func removeOption(data, prefix string) string {
	var keep []string
	for _, o := range strings.Split(data, ",") {
		if !strings.HasPrefix(o, prefix) {
			keep = append(keep, o)
		}
	}
	return strings.Join(keep, ",")
}

// bindMount makes source visible at dest too. Options other than bind
// itself (ro, nosuid …) need a second call: the kernel ignores them on the
// first one, so they are applied by a bind remount.
func bindMount(log *explain.Log, source, dest string, flags, prop uintptr) error {
	if fd, ok := detached[source]; ok {
		if err := attachDetached(log, source, dest, fd); err != nil { // userns.go
			return err
		}
	} else {
		fi, err := os.Stat(source)
		if err != nil {
			return fmt.Errorf("bind mount source: %w", err)
		}
		if err := makeMountPoint(log, dest, fi.IsDir()); err != nil {
			return err
		}
		if err := mount(log, source, dest, "", unix.MS_BIND|flags&unix.MS_REC, ""); err != nil {
			return err
		}
	}
	if rest := flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
		if err := mount(log, "", dest, "", rest|unix.MS_BIND|unix.MS_REMOUNT|lockedFlags(dest), ""); err != nil {
			return err
		}
	}
	if prop != 0 {
		return mount(log, "", dest, "", prop, "")
	}
	return nil
}

// makeMountPoint creates what dest must be before a mount: a directory, or
// an empty file for a file's bind mount (mount(2) needs one of the same
// kind), with the shell command that does the same when it was missing.
func makeMountPoint(log *explain.Log, dest string, dir bool) error {
	if _, err := os.Lstat(dest); err == nil {
		return nil
	}
	if dir {
		log.Step(fmt.Sprintf("mkdir(%q, 0755)", dest), "mkdir -p "+explain.Quote(dest))
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fmt.Errorf("create mount point %s: %w", dest, err)
		}
		return nil
	}
	if _, err := os.Lstat(filepath.Dir(dest)); err != nil {
		log.Step(fmt.Sprintf("mkdir(%q, 0755)", filepath.Dir(dest)), "mkdir -p "+explain.Quote(filepath.Dir(dest)))
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return fmt.Errorf("create mount point %s: %w", dest, err)
		}
	}
	log.Step(fmt.Sprintf("open(%q, O_CREAT, 0644)", dest), "test -e "+explain.Quote(dest)+" || touch "+explain.Quote(dest))
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_RDONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create mount point %s: %w", dest, err)
	}
	return f.Close()
}

// lockedFlags are the flags a remount must keep: in a user namespace the
// kernel refuses to clear nosuid, nodev, noexec or the atime flags of a
// mount inherited from a more privileged namespace.
func lockedFlags(path string) uintptr {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return 0
	}
	var flags uintptr
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			flags |= f.ms
		}
	}
	return flags
}

// pivotRoot makes the current directory's root the process's root and
// detaches the old one, with runc's trick that needs no put_old directory:
// pivot_root(".", ".") stacks the old root on top of the new one at "/",
// and a lazy unmount of "." removes it. The old root stays mounted, in the
// host's mount namespace only.
func pivotRoot(log *explain.Log, root string) error {
	log.Step(fmt.Sprintf("chdir(%q)", root), "cd "+explain.Quote(root))
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	// hash -r: a shell remembers where it found each command, and those
	// were the host's paths; from here on, commands are the container's.
	log.Step(`pivot_root(".", ".")`, "pivot_root . . && hash -r")
	mountNoCanon = false // the container's mount (busybox's, say) from here on; its paths are inside
	if err := unix.PivotRoot(".", "."); err != nil {
		hint := "needs CAP_SYS_ADMIN in the mount namespace's user namespace"
		if errors.Is(err, unix.EINVAL) {
			ms, _ := mountinfo.Read()
			hint = diagnosePivot(ms, root)
		}
		return fmt.Errorf("pivot_root(%q, %q) in %s: %w: %s", ".", ".", root, err, hint)
	}
	log.Step(`umount2(".", MNT_DETACH)`, "umount -l .")
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: umount2(\".\", MNT_DETACH): %w", err)
	}
	log.Step(`chdir("/")`, "cd /")
	return unix.Chdir("/")
}

// moveRoot is runc's --no-pivot, for a host whose own root pivot_root
// cannot leave (a system running from its initramfs, as in a QEMU guest
// booted with -initrd): every mount outside the new root is detached
// first, so nothing of the host stays reachable in the container's mount
// namespace, then the root is moved onto "/" (mount --move) and made the
// process's root with chroot. It is weaker than pivot_root: the host's
// root is still the namespace's root underneath, shadowed by the move,
// and a chroot can be left by a process holding CAP_SYS_CHROOT, which
// then finds that shadowed tree. Use it only where pivot_root fails.
func moveRoot(log *explain.Log, root string) error {
	ms, err := mountinfo.Read()
	if err != nil {
		return err
	}
	// Deepest first, so a mount goes before the one it sits on.
	for i := len(ms) - 1; i >= 0; i-- {
		t := ms[i].Mountpoint
		if t == "/" || t == root || strings.HasPrefix(t, root+"/") || strings.HasPrefix(root, t+"/") {
			continue
		}
		log.Step(fmt.Sprintf("umount2(%q, MNT_DETACH)", t), "umount -l "+explain.Quote(t))
		if err := unix.Unmount(t, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("--no-pivot: detach %s: %w", t, err)
		}
	}
	log.Step(fmt.Sprintf("chdir(%q)", root), "cd "+explain.Quote(root))
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("chdir %s: %w", root, err)
	}
	log.Step(`mount(".", "/", MS_MOVE)`, "mount --move . /")
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("--no-pivot: mount --move %s /: %w", root, err)
	}
	log.Step(`chroot(".")`, "chroot .")
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("--no-pivot: chroot %s: %w", root, err)
	}
	log.Step(`chdir("/")`, "cd /")
	return unix.Chdir("/")
}

// maskPath hides a path of /proc or /sys that leaks host details or lets a
// container poke the kernel: /dev/null over a file, an empty read-only
// tmpfs over a directory (the runtime spec's maskedPaths).
func maskPath(log *explain.Log, p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return nil // nothing to hide
	}
	if fi.IsDir() {
		return mount(log, "tmpfs", p, "tmpfs", unix.MS_RDONLY, "")
	}
	return mount(log, "/dev/null", p, "", unix.MS_BIND, "")
}

// readonlyPath binds p onto itself and remounts that read-only.
func readonlyPath(log *explain.Log, p string) error {
	if _, err := os.Stat(p); err != nil {
		return nil
	}
	if err := mount(log, p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	return mount(log, "", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC|lockedFlags(p), "")
}

// unifiedCgroup reports whether /sys/fs/cgroup is cgroup v2.
func unifiedCgroup() bool {
	var st unix.Statfs_t
	return unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// mountAll mounts the spec's mounts below root, in order, then fills /dev
// when one of them is a fresh /dev.
func mountAll(log *explain.Log, root string, s *specs.Spec, userns bool) error {
	devTmpfs := false
	for _, m := range s.Mounts {
		if err := mountOne(log, root, m, userns, ownCgroupNS(s)); err != nil {
			return err
		}
		devTmpfs = devTmpfs || filepath.Clean(m.Destination) == "/dev"
	}
	if devTmpfs {
		return makeDev(log, root, s, userns)
	}
	return nil
}
