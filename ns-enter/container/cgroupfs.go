package container

// What a container sees at /sys/fs/cgroup
//
// Docker gives every container a read-only view of its own cgroup at
// /sys/fs/cgroup, so a program inside can read the limits it was given
// (cat /sys/fs/cgroup/memory.max; a JVM or Go runtime sizes itself so).
// Two kernel features make the view the container's own:
//
//   - the cgroup namespace (Linux 4.6): its root is the cgroup the process
//     was in when the namespace was made. /proc/self/cgroup then reads "/",
//     and a cgroup file system mounted inside shows that cgroup as its top.
//     ns-enter makes it in stage 1, after stage 0 put the process in its
//     cgroup (runc's order): made by clone(2), its root would be
//     ns-enter's own cgroup.
//   - a fresh mount of the cgroup file system (not a bind of the host's
//     /sys/fs/cgroup), read-only, so the container reads its limits and
//     cannot raise them.
//
// On a cgroup v2 host that is one mount of cgroup2. On a v1 or hybrid host
// every hierarchy is a file system of its own (memory, cpu, pids …, plus
// cgroup2 at unified/ on a hybrid host): like runc, ns-enter puts a tmpfs
// at /sys/fs/cgroup, mounts each hierarchy the host has below it with the
// same controllers (the super options mountinfo shows: "memory",
// "name=systemd"), copies the host's symlinks (cpu -> cpu,cpuacct) and
// makes the tmpfs read-only last. Inside:
//
//	cat /sys/fs/cgroup/memory/memory.limit_in_bytes     # v1
//	cat /sys/fs/cgroup/memory.max                       # v2
//
// Without a cgroup namespace the same mounts show the host's whole tree,
// as docker run --cgroupns host does. There cgroup2 is bound from the
// host's mount, not mounted afresh: a cgroup2 mount made in the host's
// cgroup namespace applies its options to the host's hierarchy (one
// without nsdelegate would turn the host's off), and does so under the
// lock every fork reads, waiting for an RCU grace period (7-13 ms here).

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

const cgroupRoot = "/sys/fs/cgroup"

// mountCgroupV1 mounts the host's cgroup v1 hierarchies (and a hybrid
// host's cgroup2, bound from the host's with bind2) below a tmpfs at dest;
// flags are the spec's mount flags.
func mountCgroupV1(log *explain.Log, dest string, flags uintptr, bind2 bool) error {
	ms, err := mountinfo.Read()
	if err != nil {
		return err
	}
	ro := flags&unix.MS_RDONLY != 0
	flags &^= unix.MS_RDONLY
	if err := mount(log, "tmpfs", dest, "tmpfs", flags, "mode=755"); err != nil {
		return err
	}
	for _, m := range ms {
		sub, ok := strings.CutPrefix(m.Mountpoint, cgroupRoot+"/")
		if !ok || strings.Contains(sub, "/") || m.FSType != "cgroup" && m.FSType != "cgroup2" {
			continue
		}
		target := filepath.Join(dest, sub)
		if err := makeMountPoint(log, target, true); err != nil {
			return err
		}
		var err error
		if m.FSType == "cgroup2" && bind2 {
			err = bindMount(log, m.Mountpoint, target, flags, 0)
		} else {
			err = mount(log, m.FSType, target, m.FSType, flags, controllers(m.SuperOptions))
		}
		if errors.Is(err, unix.EPERM) {
			// In a user namespace without a cgroup namespace of its own the
			// kernel refuses: the hierarchy would show the host's tree.
			log.Note("no permission to mount the %s hierarchy (no cgroup namespace of the container's own): %s stays empty", sub, target)
			continue
		}
		if err != nil {
			return err
		}
		if ro {
			if err := mount(log, "", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|lockedFlags(target), ""); err != nil {
				return err
			}
		}
	}
	entries, _ := os.ReadDir(cgroupRoot)
	for _, e := range entries {
		if e.Type()&os.ModeSymlink == 0 {
			continue
		}
		to, err := os.Readlink(filepath.Join(cgroupRoot, e.Name()))
		if err != nil {
			continue
		}
		link := filepath.Join(dest, e.Name())
		log.Step(fmt.Sprintf("symlink(%q, %q)", to, link), "ln -s "+explain.Quote(to)+" "+explain.Quote(link))
		if err := os.Symlink(to, link); err != nil {
			return fmt.Errorf("symlink %s: %w", link, err)
		}
	}
	if ro {
		return mount(log, "", dest, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|lockedFlags(dest), "")
	}
	return nil
}

// bindCgroup2 tells whether the container's cgroup2 is bound from the
// host's mount: in the host's cgroup namespace (the container has none of
// its own), when root inside is the host's root (no user namespace, which
// a fresh mount refuses there instead).
func bindCgroup2(userns, cgroupNS bool) bool { return !userns && !cgroupNS }

// hostCgroup2 is where the host's cgroup2 is mounted below /sys/fs/cgroup
// (itself on a v2 host, unified/ on a hybrid one), or "".
func hostCgroup2() string {
	ms, _ := mountinfo.Read()
	for _, m := range ms {
		if m.FSType == "cgroup2" && (m.Mountpoint == cgroupRoot || strings.HasPrefix(m.Mountpoint, cgroupRoot+"/")) {
			return m.Mountpoint
		}
	}
	return ""
}

// ownCgroupNS tells whether s gives the container a cgroup namespace,
// new or joined.
func ownCgroupNS(s *specs.Spec) bool {
	if s.Linux == nil {
		return false
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			return true
		}
	}
	return false
}

// controllers is the data a v1 hierarchy is mounted with: its super
// options without rw/ro ("rw,memory" → "memory").
func controllers(superOptions string) string {
	var keep []string
	for _, o := range strings.Split(superOptions, ",") {
		if o != "rw" && o != "ro" && o != "" {
			keep = append(keep, o)
		}
	}
	return strings.Join(keep, ",")
}
