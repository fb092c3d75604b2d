package container

import (
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestCaps(t *testing.T) {
	s, err := parseCaps([]string{"CAP_CHOWN", "net_admin", "cap_sys_admin"})
	if err != nil || s != 1<<unix.CAP_CHOWN|1<<unix.CAP_NET_ADMIN|1<<unix.CAP_SYS_ADMIN {
		t.Errorf("parseCaps() = %b, %v", s, err)
	}
	if got := s.String(); got != "chown,net_admin,sys_admin" {
		t.Errorf("String() = %q", got)
	}
	if got := capSet(0).String(); got != "-all" {
		t.Errorf("String(none) = %q", got)
	}
	if _, err := parseCaps([]string{"CAP_FLY"}); err == nil || !strings.Contains(err.Error(), `unknown capability "CAP_FLY"`) {
		t.Errorf("parseCaps(CAP_FLY) = %v", err)
	}
	cs, err := parseCapsets(&specs.LinuxCapabilities{Bounding: []string{"CAP_KILL"}, Ambient: []string{"CAP_NET_RAW"}})
	if err != nil || cs.bounding != 1<<unix.CAP_KILL || cs.ambient != 1<<unix.CAP_NET_RAW || cs.effective != 0 {
		t.Errorf("parseCapsets() = %+v, %v", cs, err)
	}
	if _, err := parseCapsets(&specs.LinuxCapabilities{Permitted: []string{"bogus"}}); err == nil {
		t.Errorf("parseCapsets(bogus) = nil error")
	}
	names := CapNames()
	if names[unix.CAP_SYS_ADMIN] != "CAP_SYS_ADMIN" || names[unix.CAP_CHECKPOINT_RESTORE] != "CAP_CHECKPOINT_RESTORE" {
		t.Errorf("CapNames() does not follow the kernel's numbering: %q", names)
	}
	names[0] = "changed"
	if CapNames()[0] != "CAP_CHOWN" {
		t.Errorf("CapNames() hands out its own table")
	}
	data, _ := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if got := lastCap(); strings.TrimSpace(string(data)) != "" && strings.TrimSpace(string(data)) != strconv.Itoa(got) {
		t.Errorf("lastCap() = %d, /proc says %s", got, data)
	}
}

func TestMountNames(t *testing.T) {
	if got := strings.Split(MountFlagNames(unix.MS_BIND|unix.MS_REC|unix.MS_RDONLY), "|"); len(got) != 3 || !slices.Contains(got, "MS_BIND") || !slices.Contains(got, "MS_REC") || !slices.Contains(got, "MS_RDONLY") {
		t.Errorf("MountFlagNames(bind|rec|ro) = %q", got)
	}
	if got := MountFlagNames(0); got != "0" {
		t.Errorf("MountFlagNames(0) = %q", got)
	}
	opts := MountOptions()
	if !slices.IsSorted(opts) || !slices.Contains(opts, "nosuid") || !slices.Contains(opts, "rprivate") {
		t.Errorf("MountOptions() = %q, want sorted, flags and propagations", opts)
	}
	e := &mountError{source: "proc", target: "/proc", fstype: "proc", flags: unix.MS_NOSUID, err: unix.EPERM}
	if !errors.Is(e, unix.EPERM) || !strings.Contains(e.Error(), `mount "proc" on "/proc" (type "proc", flags MS_NOSUID`) || !strings.Contains(e.Error(), "needs CAP_SYS_ADMIN") {
		t.Errorf("mountError = %q", e.Error())
	}
	e.err = unix.EACCES
	if !strings.Contains(e.Error(), "search permission") {
		t.Errorf("mountError(EACCES) = %q", e.Error())
	}
	if got := removeOption("mode=755,size=64k,uid=0", "size="); got != "mode=755,uid=0" {
		t.Errorf("removeOption() = %q", got)
	}
	if got := controllers("rw,cpu,cpuacct"); got != "cpu,cpuacct" {
		t.Errorf("controllers() = %q", got)
	}
	var st unix.Statfs_t
	if unix.Statfs("/proc", &st) == nil && st.Flags&unix.ST_NOSUID != 0 && lockedFlags("/proc")&unix.MS_NOSUID == 0 {
		t.Errorf("lockedFlags(/proc) = %s, want MS_NOSUID as /proc is mounted", MountFlagNames(lockedFlags("/proc")))
	}
	if lockedFlags("/nonexistent-ck") != 0 {
		t.Errorf("lockedFlags(missing) != 0")
	}
}

func TestPrivileged(t *testing.T) {
	s := &specs.Spec{Process: &specs.Process{}, Mounts: []specs.Mount{
		{Destination: "/sys", Type: "sysfs", Options: []string{"nosuid", "ro"}},
		{Destination: "/proc", Type: "proc", Options: []string{"ro"}},
	}, Linux: &specs.Linux{Seccomp: &specs.LinuxSeccomp{}, MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys"},
		Devices: []specs.LinuxDevice{{Path: "/dev/null", Type: "c", Major: 1, Minor: 3}}}}
	Privileged(s)
	if slices.Contains(s.Mounts[0].Options, "ro") || !slices.Contains(s.Mounts[1].Options, "ro") {
		t.Errorf("mount options after Privileged: %v", s.Mounts)
	}
	if s.Linux.Seccomp != nil || s.Linux.MaskedPaths != nil || s.Linux.ReadonlyPaths != nil {
		t.Errorf("Privileged left seccomp or masked paths: %+v", s.Linux)
	}
	if r := s.Linux.Resources.Devices; len(r) != 1 || !r[0].Allow || r[0].Access != "rwm" {
		t.Errorf("device rules = %+v, want every device", r)
	}
	nulls := 0
	for _, d := range s.Linux.Devices {
		if d.Path == "/dev/null" {
			nulls++
		}
		if strings.HasPrefix(d.Path, "/dev/pts/") || d.Path == "/dev/ptmx" {
			t.Errorf("Privileged copied %s", d.Path)
		}
	}
	if nulls != 1 || len(s.Linux.Devices) < 2 {
		t.Errorf("devices = %d, /dev/null %d times; want the host's, /dev/null once", len(s.Linux.Devices), nulls)
	}
	// The capabilities are ns-enter's own bounding set.
	var want int
	for i := 0; i < len(capNames); i++ {
		if in, _ := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); in == 1 {
			want++
		}
	}
	if c := s.Process.Capabilities; c == nil || len(c.Bounding) != want || len(c.Effective) != want {
		t.Errorf("capabilities = %+v, want the %d of the bounding set", c, want)
	}
}

func TestExecSpec(t *testing.T) {
	c := &specs.Spec{Version: "1.2.0", Hostname: "h", Annotations: map[string]string{"a": "b"},
		Process: &specs.Process{Args: []string{"sh"}, Terminal: true, ConsoleSize: &specs.Box{Height: 1}, User: specs.User{UID: 7}},
		Root:    &specs.Root{Path: "/r"},
		Linux:   &specs.Linux{CgroupsPath: "/ctrkit/x", Seccomp: &specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_ERRNO"}, Namespaces: []specs.LinuxNamespace{{Type: "pid"}}}}
	s := ExecSpec(c)
	if s.Process.Terminal || s.Process.ConsoleSize != nil || s.Process.User.UID != 7 || s.Root != nil || s.Hostname != "" ||
		s.Linux.CgroupsPath != "/ctrkit/x" || s.Linux.Seccomp == nil || len(s.Linux.Namespaces) != 0 || s.Annotations["a"] != "b" {
		t.Errorf("ExecSpec() = %+v", s)
	}
	if !c.Process.Terminal {
		t.Errorf("ExecSpec() changed the container's spec")
	}
	if s := ExecSpec(&specs.Spec{}); s.Process != nil || s.Linux == nil {
		t.Errorf("ExecSpec(empty) = %+v", s)
	}
}

func TestCgroupDirs(t *testing.T) {
	if _, err := CgroupDirs("system.slice:docker:abc"); err == nil || !strings.Contains(err.Error(), "systemd's slice:prefix:name") {
		t.Errorf("CgroupDirs(systemd form) = %v", err)
	}
	dirs, err := CgroupDirs("/")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/sys/fs/cgroup"); err == nil && len(dirs) == 0 {
		t.Errorf("CgroupDirs(/) = none, want every hierarchy's root")
	}
	if dirs, _ := CgroupDirs("/ctrkit-no-such-cgroup"); len(dirs) != 0 {
		t.Errorf("CgroupDirs(missing) = %q", dirs)
	}
	rule := func(a string) specs.LinuxDeviceCgroup { return specs.LinuxDeviceCgroup{Allow: true, Access: a} }
	if !hasTail([]specs.LinuxDeviceCgroup{rule("r"), rule("w")}, []specs.LinuxDeviceCgroup{rule("w")}) || hasTail([]specs.LinuxDeviceCgroup{rule("r")}, []specs.LinuxDeviceCgroup{rule("r"), rule("r")}) {
		t.Errorf("hasTail() is wrong")
	}
}
