package container

// Two namespaces stage 1 makes itself
//
// Most namespaces are made by the clone(2) that starts stage 1. Two are
// made later, by stage 1 itself with unshare(2), as runc does:
//
//   - the cgroup namespace, whose root is the cgroup its maker is in at
//     that moment: stage 1 moves into the container's cgroup (or stage 0
//     moves it) only after clone, so a cgroup namespace made by clone
//     would have ns-enter's cgroup as its root, and the container would
//     see its own cgroup as /ctrkit/NAME instead of / (see cgroupfs.go).
//   - the time namespace (Linux 5.6), which clone(2) cannot make at all:
//     its flag CLONE_NEWTIME (0x80) lies in the bits that name clone's exit
//     signal. unshare(CLONE_NEWTIME) does not move the caller either: it
//     makes the namespace its children and its next execve(2) will be in
//     (time_for_children), and leaves a moment to set the clocks' offsets
//     in /proc/self/timens_offsets, which can be written only while
//     no process is in the namespace:
//
//	unshare --time --monotonic 86400 --boottime 86400 cat /proc/uptime
//
// Offsets move CLOCK_MONOTONIC and CLOCK_BOOTTIME only (what uptime,
// timeouts and "time since boot" read). The wall clock, CLOCK_REALTIME, is
// the same in every namespace: a container that could set it would set it
// for the host.

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/ns-enter/namespace"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// lateKinds are the kinds stage 1 unshares instead of clone making them.
const lateKinds = unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

// planLate moves the late kinds from clone to unshare and checks
// linux.timeOffsets.
func (p *runPlan) planLate(s *specs.Spec) error {
	p.unshare = p.clone & lateKinds
	p.clone &^= lateKinds
	if len(s.Linux.TimeOffsets) == 0 {
		return nil
	}
	if p.unshare&unix.CLONE_NEWTIME == 0 {
		return errors.New("linux.timeOffsets need a new time namespace: add --time (a \"time\" entry without path in linux.namespaces)")
	}
	for clock := range s.Linux.TimeOffsets {
		if clock != "monotonic" && clock != "boottime" {
			return fmt.Errorf("linux.timeOffsets: unknown clock %q: a time namespace offsets only \"monotonic\" and \"boottime\"", clock)
		}
	}
	return nil
}

// unshareLate makes the late namespaces and sets the clocks' offsets.
func unshareLate(log *explain.Log, cfg *initConfig) error {
	if cfg.Unshare == 0 {
		return nil
	}
	var opts []string
	for _, k := range namespace.Kinds {
		if cfg.Unshare&k.Flag != 0 {
			opts = append(opts, k.Option)
		}
	}
	offsets := timeOffsets(cfg.Spec.Linux.TimeOffsets)
	shell := "unshare " + strings.Join(opts, " ")
	for _, o := range offsets {
		f := strings.Fields(o)
		shell += fmt.Sprintf(" --%s %s", f[0], f[1])
	}
	log.Step(fmt.Sprintf("unshare(%s)", namespace.FlagNames(cfg.Unshare)), "exec "+shell+" bash") // the shell the rest of a replayed transcript is typed into
	if err := unix.Unshare(int(cfg.Unshare)); err != nil {
		hint := ""
		if errors.Is(err, unix.EINVAL) && cfg.Unshare&unix.CLONE_NEWTIME != 0 {
			hint = " (time namespaces need Linux 5.6 with CONFIG_TIME_NS)"
		}
		return fmt.Errorf("unshare(%s): %w%s", namespace.FlagNames(cfg.Unshare), err, hint)
	}
	if len(offsets) == 0 {
		return nil
	}
	const file = "/proc/self/timens_offsets" // the main thread's, locked by init() to the one that execs
	data := strings.Join(offsets, "\n") + "\n"
	log.Step(fmt.Sprintf("write(%q, %q)", file, data), "# unshare(1) writes the offsets itself")
	if err := os.WriteFile(file, []byte(data), 0); err != nil {
		return fmt.Errorf("set the clocks' offsets: write %q to %s: %w (needs CAP_SYS_TIME, before any process enters the namespace)", data, file, err)
	}
	return nil
}

// timeOffsets renders linux.timeOffsets as lines of timens_offsets:
// "CLOCK SECONDS NANOSECONDS", in a stable order.
func timeOffsets(m map[string]specs.LinuxTimeOffset) []string {
	var lines []string
	for clock, o := range m {
		lines = append(lines, fmt.Sprintf("%s %d %d", clock, o.Secs, o.Nanosecs))
	}
	sort.Strings(lines)
	return lines
}
