package spec

import (
	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// DefaultCaps is Docker's default capability set, given to a container with
// its own root filesystem unless the spec says otherwise.
var DefaultCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// Default is the spec of a container with its own root filesystem, the
// same choices `runc spec` makes: /proc, a small /dev with devpts, shm and
// mqueue, read-only /sys and /sys/fs/cgroup, Docker's capability set, no_new_privs, masked and
// read-only /proc paths, Docker's device allowlist (devices.go) and
// Docker's default seccomp profile (DefaultSeccomp). Of the namespaces it
// lists only the mount namespace, which a root filesystem needs; callers
// add the others.
func Default(rootfs string, args []string) *specs.Spec {
	caps := append([]string(nil), DefaultCaps...)
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: rootfs},
		Process: &specs.Process{
			Args: args,
			Env:  []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm", "HOME=/root"},
			Cwd:  "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			// The container's own cgroup, read-only (with a cgroup
			// namespace; ns-enter/container/cgroupfs.go), as docker mounts it.
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{{Type: specs.MountNamespace}},
			Resources:  &specs.LinuxResources{Devices: DefaultDeviceRules()},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
			},
			ReadonlyPaths: []string{
				"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
			},
		},
	}
	s.Linux.Seccomp = DefaultSeccomp(s)
	return s
}

// DefaultSeccomp is Docker's default seccomp profile for s, as
// linux.seccomp: deny (EPERM) every system call but the ~400 an ordinary
// program needs. The profile is data kept by the moby project
// (github.com/moby/profiles/seccomp, the package docker itself uses), not a
// copy here. Some of its rules depend on the spec: calls such as mount,
// unshare, setns or clone with namespace flags are allowed only when the
// bounding set holds CAP_SYS_ADMIN, ptrace only with CAP_SYS_PTRACE, and so
// on; and on the running kernel and architecture. So whoever changes the
// capabilities (docker's --cap-add) computes the profile again.
//
// The only error moby's package can return is an unreadable kernel release
// from uname(2), which cannot happen on Linux; the spec then carries no
// profile.
func DefaultSeccomp(s *specs.Spec) *specs.LinuxSeccomp {
	if s.Process == nil || s.Process.Capabilities == nil {
		c := *s
		c.Process = &specs.Process{Capabilities: &specs.LinuxCapabilities{}}
		s = &c
	}
	p, err := seccomp.GetDefaultProfile(s)
	if err != nil {
		return nil
	}
	return p
}
