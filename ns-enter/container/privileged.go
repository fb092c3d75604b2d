package container

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Privileged turns s into what `docker run --privileged` runs: every
// capability ns-enter itself may pass on (its bounding set), no seccomp filter, no masked or read-only
// /proc paths, a writable /sys, every device of the host's /dev in the
// container's /dev and allowed by the devices cgroup. It is the one
// explicit way back from each default that keeps a container in; the
// container's root is then the host's root in all but name.
func Privileged(s *specs.Spec) {
	var all []string
	for i := 0; i <= lastCap() && i < len(capNames); i++ {
		if in, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); in == 1 {
			all = append(all, capNames[i])
		}
	}
	if s.Process != nil {
		s.Process.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	for i, m := range s.Mounts {
		if m.Type == "sysfs" || m.Type == "cgroup" || m.Type == "cgroup2" {
			s.Mounts[i].Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
	}
	if s.Linux == nil {
		s.Linux = &specs.Linux{}
	}
	s.Linux.Seccomp = nil
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = nil, nil
	for _, d := range hostDevices("/dev") {
		if !slices.ContainsFunc(s.Linux.Devices, func(have specs.LinuxDevice) bool { return have.Path == d.Path }) {
			s.Linux.Devices = append(s.Linux.Devices, d)
		}
	}
	if s.Linux.Resources == nil {
		s.Linux.Resources = &specs.LinuxResources{}
	}
	s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
}

// hostDevices lists the device nodes under dir, as docker's --privileged
// copies them: block and character devices, not those of /dev/pts (the
// container has its own devpts) nor symbolic links.
func hostDevices(dir string) []specs.LinuxDevice {
	var devs []specs.LinuxDevice
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return nil // a node that vanished, an unreadable dir: skip it
		}
		if e.IsDir() && (path == filepath.Join(dir, "pts") || path == filepath.Join(dir, "shm") || path == filepath.Join(dir, "mqueue")) {
			return filepath.SkipDir
		}
		// ptmx and console stay the container's own (devpts, its terminal).
		if e.Type()&fs.ModeDevice == 0 || strings.HasPrefix(e.Name(), ".") || e.Name() == "ptmx" || e.Name() == "console" {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil {
			return nil
		}
		kind := "c"
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			kind = "b"
		}
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		devs = append(devs, specs.LinuxDevice{Path: path, Type: kind, Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev)),
			FileMode: &mode, UID: &uid, GID: &gid})
		return nil
	})
	return devs
}
