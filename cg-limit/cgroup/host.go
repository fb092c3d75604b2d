// Package cgroup creates, limits, measures, freezes and removes control
// groups, on cgroup v2, cgroup v1 and the hybrid of both.
//
// A cgroup is a directory in a cgroup file system; a process joins it by
// writing its PID into the directory's "cgroup.procs", and a limit is a
// write into one of the directory's files:
//
//	mkdir /sys/fs/cgroup/ctrkit/web                       # v2: one tree
//	echo 67108864 > /sys/fs/cgroup/ctrkit/web/memory.max
//	echo $$ > /sys/fs/cgroup/ctrkit/web/cgroup.procs
//
// On cgroup v1 every controller has a tree (a "hierarchy") of its own, so
// the same cgroup is one directory per controller, and the files have other
// names (memory.limit_in_bytes instead of memory.max). The Table in
// table.go lists which flag becomes which file in each version.
//
// Every cgroup this package makes lives at /ctrkit/NAME in every hierarchy
// it uses; it never writes into a cgroup outside /ctrkit, except to enable
// a controller for its children on cgroup v2 (cgroup.subtree_control).
package cgroup

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ctrkit/internal/mountinfo"
)

// Parent is the cgroup, in every hierarchy, under which ctrkit makes its own.
const Parent = "/ctrkit"

// Host describes where the cgroup file systems are mounted.
type Host struct {
	// Unified is the mount point of the cgroup v2 file system, "" if none.
	Unified string
	// V2 lists the controllers the cgroup v2 root offers
	// (its cgroup.controllers), for example memory, cpu, io, pids.
	V2 map[string]bool
	// V1 maps each cgroup v1 controller (memory, cpu, cpuacct, blkio …) to
	// the mount point of its hierarchy. Named hierarchies (name=systemd) are
	// not controllers and are left out.
	V1 map[string]string
}

// Mode is how the host mounts cgroups.
type Mode string

const (
	ModeV2     Mode = "v2"     // one cgroup2 tree with every controller
	ModeV1     Mode = "v1"     // one tree per controller, no cgroup2
	ModeHybrid Mode = "hybrid" // v1 trees plus a cgroup2 tree (often with no controllers)
	ModeNone   Mode = "none"   // nothing mounted
)

// Mode tells v2, v1, hybrid or none.
func (h *Host) Mode() Mode {
	switch {
	case h.Unified != "" && len(h.V1) == 0:
		return ModeV2
	case h.Unified == "" && len(h.V1) > 0:
		return ModeV1
	case h.Unified != "":
		return ModeHybrid
	}
	return ModeNone
}

// Detect reads /proc/self/mountinfo and the cgroup2 root's cgroup.controllers.
func Detect() (*Host, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("detect cgroups: %w", err)
	}
	defer f.Close()
	h := parseMountInfo(f)
	if h.Unified != "" {
		data, err := os.ReadFile(filepath.Join(h.Unified, "cgroup.controllers"))
		if err != nil {
			return nil, fmt.Errorf("detect cgroups: %w", err)
		}
		for _, c := range strings.Fields(string(data)) {
			h.V2[c] = true
		}
	}
	return h, nil
}

// parseMountInfo finds the cgroup and cgroup2 mounts in a mountinfo file
// (proc(5)). A v1 mount's super options name its controllers: "rw,cpu,cpuacct".
func parseMountInfo(r io.Reader) *Host {
	h := &Host{V2: map[string]bool{}, V1: map[string]string{}}
	for _, m := range mountinfo.Parse(r) {
		switch m.FSType {
		case "cgroup2":
			if h.Unified == "" || m.Mountpoint == "/sys/fs/cgroup" {
				h.Unified = m.Mountpoint
			}
		case "cgroup":
			for _, o := range strings.Split(m.SuperOptions, ",") {
				if knownV1[o] {
					if _, dup := h.V1[o]; !dup {
						h.V1[o] = m.Mountpoint
					}
				}
			}
		}
	}
	return h
}

// knownV1 are the cgroup v1 controllers (see /proc/cgroups).
var knownV1 = map[string]bool{
	"cpu": true, "cpuacct": true, "cpuset": true, "memory": true, "blkio": true,
	"pids": true, "freezer": true, "devices": true, "net_cls": true,
	"net_prio": true, "perf_event": true, "hugetlb": true, "rdma": true, "misc": true,
}

// v1Name is the v1 name of a controller ctrkit knows by its v2 name.
var v1Name = map[string]string{
	"cpu": "cpu", "cpuacct": "cpuacct", "cpuset": "cpuset", "memory": "memory",
	"io": "blkio", "pids": "pids", "freezer": "freezer", "net_prio": "net_prio",
	"devices": "devices", "net_cls": "net_cls", "hugetlb": "hugetlb",
}

// Where tells the hierarchy that serves controller ctrl (named as on v2:
// memory, cpu, cpuset, io, pids; plus cpuacct, freezer, net_prio and
// devices, which v2 has no controller for): its mount point, and whether it is cgroup v2.
// ok is false when no mounted hierarchy has it.
func (h *Host) Where(ctrl string) (mnt string, v2 bool, ok bool) {
	switch {
	case h.Unified != "" && h.V2[ctrl]:
		return h.Unified, true, true
	case h.Unified != "" && h.Mode() == ModeV2 && (ctrl == "freezer" || ctrl == "cpuacct"):
		// v2 has freezing (cgroup.freeze, Linux 5.2) and CPU usage
		// (cpu.stat) in every cgroup, with no controller to enable.
		return h.Unified, true, true
	}
	if m, ok := h.V1[v1Name[ctrl]]; ok {
		return m, false, true
	}
	if ctrl == "devices" && h.Unified != "" {
		// v2 filters devices with a BPF program on any cgroup: there is
		// no controller to enable (Linux 4.15).
		return h.Unified, true, true
	}
	return "", false, false
}

// baseControllers are used by every cgroup ctrkit makes, so that stats,
// freeze and kill work even when no limit was set.
var baseControllers = []string{"memory", "cpu", "cpuacct", "io", "pids", "freezer"}

// hierarchies are the mount points a cgroup using ctrls lives in: one per
// distinct hierarchy, plus the v2 tree on a v2 host.
func (h *Host) hierarchies(ctrls []string) []string {
	seen := map[string]bool{}
	var ms []string
	add := func(m string) {
		if m != "" && !seen[m] {
			seen[m] = true
			ms = append(ms, m)
		}
	}
	if h.Mode() == ModeV2 {
		add(h.Unified)
	}
	for _, c := range ctrls {
		if m, _, ok := h.Where(c); ok {
			add(m)
		}
	}
	sort.Strings(ms)
	return ms
}

// Mounts lists every mounted cgroup hierarchy, v2 first.
func (h *Host) Mounts() []string {
	var ms []string
	seen := map[string]bool{}
	if h.Unified != "" {
		ms = append(ms, h.Unified)
		seen[h.Unified] = true
	}
	var v1 []string
	for _, m := range h.V1 {
		if !seen[m] {
			seen[m] = true
			v1 = append(v1, m)
		}
	}
	sort.Strings(v1)
	return append(ms, v1...)
}
