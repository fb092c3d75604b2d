package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"ctrkit/internal/explain"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// capNames lists capabilities by number, as capabilities(7) names them.
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// capSet is a capability bitmask, bit n for capability n.
type capSet uint64

func parseCaps(names []string) (capSet, error) {
	var s capSet
	for _, n := range names {
		i := capIndex(n)
		if i < 0 {
			return 0, fmt.Errorf("unknown capability %q: see capabilities(7) for the names, e.g. CAP_NET_ADMIN", n)
		}
		s |= 1 << i
	}
	return s, nil
}

func capIndex(name string) int {
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "CAP_") {
		name = "CAP_" + name
	}
	for i, n := range capNames {
		if n == name {
			return i
		}
	}
	return -1
}

// lastCap is the highest capability the running kernel knows.
func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return len(capNames) - 1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return len(capNames) - 1
	}
	return n
}

func (s capSet) String() string {
	var names []string
	for i, n := range capNames {
		if s&(1<<i) != 0 {
			names = append(names, strings.ToLower(strings.TrimPrefix(n, "CAP_")))
		}
	}
	if len(names) == 0 {
		return "-all"
	}
	return strings.Join(names, ",")
}

// capsets holds the five sets of capabilities(7) the runtime spec names.
type capsets struct {
	bounding, effective, inheritable, permitted, ambient capSet
}

func parseCapsets(c *specs.LinuxCapabilities) (capsets, error) {
	var cs capsets
	var err error
	for _, p := range []struct {
		dst   *capSet
		names []string
	}{{&cs.bounding, c.Bounding}, {&cs.effective, c.Effective}, {&cs.inheritable, c.Inheritable}, {&cs.permitted, c.Permitted}, {&cs.ambient, c.Ambient}} {
		if *p.dst, err = parseCaps(p.names); err != nil {
			return cs, err
		}
	}
	return cs, nil
}

// dropBounding removes from the bounding set every capability not in keep.
// The bounding set limits what any later execve can ever regain, even a
// set-user-id-root program. Needs CAP_SETPCAP, so it runs before setuid.
func dropBounding(log *explain.Log, keep capSet) error {
	last := lastCap()
	bset := "-all" // setpriv(1)'s words: -all,+chown,+kill
	if keep != 0 {
		bset += ",+" + strings.ReplaceAll(keep.String(), ",", ",+")
	}
	// A shell cannot do this step where ns-enter does: after pivot_root
	// only the container's tools are left, and busybox has none for it.
	log.Step(fmt.Sprintf("prctl(PR_CAPBSET_DROP, …) for every capability but %s", keep), "# at the exec, with util-linux: setpriv --bounding-set="+bset+" PROGRAM (no busybox tool drops it)")
	for i := 0; i <= last; i++ {
		if keep&(1<<i) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil && err != unix.EINVAL {
			return fmt.Errorf("prctl(PR_CAPBSET_DROP, %s): %w", capNames[min(i, len(capNames)-1)], err)
		}
	}
	return nil
}

// applyCaps sets the effective, permitted and inheritable sets of the
// calling thread (capset(2) acts on one thread only: the caller keeps its
// goroutine locked to the thread that will execve), then raises ambient
// capabilities, which survive execve of an ordinary program.
func applyCaps(log *explain.Log, cs capsets) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i, set := range []capSet{cs.effective, cs.permitted, cs.inheritable} {
		lo, hi := uint32(set), uint32(set>>32)
		switch i {
		case 0:
			data[0].Effective, data[1].Effective = lo, hi
		case 1:
			data[0].Permitted, data[1].Permitted = lo, hi
		case 2:
			data[0].Inheritable, data[1].Inheritable = lo, hi
		}
	}
	log.Step(fmt.Sprintf("capset(effective=%s, permitted=%s, inheritable=%s)", cs.effective, cs.permitted, cs.inheritable),
		fmt.Sprintf("# at the exec, with util-linux: setpriv --inh-caps=%s PROGRAM", cs.inheritable))
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset(effective=%s, permitted=%s): %w", cs.effective, cs.permitted, err)
	}
	// The kernel raises an ambient capability only if it is permitted and
	// inheritable too. runc spec's own default lists ambient capabilities
	// without inheritable ones; runc then skips them, and so does ns-enter.
	if skip := cs.ambient &^ (cs.inheritable & cs.permitted); skip != 0 {
		log.Note("ambient capabilities %s are not both permitted and inheritable: not raised (as runc does)", skip)
		cs.ambient &^= skip
	}
	for i := range capNames {
		if cs.ambient&(1<<i) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(i), 0, 0); err != nil {
			return fmt.Errorf("prctl(PR_CAP_AMBIENT_RAISE, %s): %w (an ambient capability must also be permitted and inheritable)", capNames[i], err)
		}
	}
	if cs.ambient != 0 {
		log.Step(fmt.Sprintf("prctl(PR_CAP_AMBIENT_RAISE, %s)", cs.ambient), fmt.Sprintf("# at the exec, with util-linux: setpriv --ambient-caps=+%s PROGRAM", strings.ReplaceAll(cs.ambient.String(), ",", ",+")))
	}
	return nil
}

// CapNames lists the capabilities ns-enter knows, for `ctrkit-runc features`.
func CapNames() []string { return append([]string(nil), capNames...) }
