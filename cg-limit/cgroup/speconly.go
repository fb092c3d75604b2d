package cgroup

import (
	"fmt"
	"sort"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// specOnly turns the parts of linux.resources that no docker flag of
// cg-limit sets, but that an OCI runtime must apply, into writes: memory
// swappiness, the OOM killer switch, the kernel TCP memory limit, the net_cls
// class id and hugetlb limits. They arrive only in a spec (containerd,
// dockerd or the runtime-tools suite driving ctrkit-runc), so the "flag"
// named in errors is the spec field.
//
// Where cgroup v2 has no file for a field, runc ignores it and so does
// ctrkit, with a note: v2 dropped per-cgroup swappiness and kernel memory
// limits (kernel memory is charged to memory.max), and turning the OOM
// killer off (memory.oom.group is a different switch).
func (h *Host) specOnly(r *specs.LinuxResources) ([]Setting, error) {
	var out []Setting
	v1 := func(field, ctrl, file, value string, optional bool) error {
		_, v2, ok := h.Where(ctrl)
		switch {
		case !ok:
			return fmt.Errorf("%s: the %s controller is not mounted on this host (see cg-limit info)", field, ctrl)
		case v2:
			out = append(out, Setting{Flag: field, Controller: ctrl, V2: true, File: file, Ignored: true})
			return nil
		}
		out = append(out, Setting{Flag: field, Controller: ctrl, File: file, Value: value, Optional: optional})
		return nil
	}
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }

	if m := r.Memory; m != nil {
		if m.Swappiness != nil {
			if *m.Swappiness > 100 {
				return nil, fmt.Errorf("linux.resources.memory.swappiness %d: must be between 0 and 100", *m.Swappiness)
			}
			if err := v1("linux.resources.memory.swappiness", "memory", "memory.swappiness", strconv.FormatUint(*m.Swappiness, 10), false); err != nil {
				return nil, err
			}
		}
		if m.DisableOOMKiller != nil && *m.DisableOOMKiller {
			if err := v1("linux.resources.memory.disableOOMKiller", "memory", "memory.oom_control", "1", false); err != nil {
				return nil, err
			}
		}
		// memory.kernel, deprecated in the runtime spec and a no-op in
		// kernels since 5.4 (the file may stay, accepting writes that
		// limit nothing), is left alone, as runc leaves it.
		if m.KernelTCP != nil && *m.KernelTCP != 0 {
			if err := v1("linux.resources.memory.kernelTCP", "memory", "memory.kmem.tcp.limit_in_bytes", i64(*m.KernelTCP), true); err != nil {
				return nil, err
			}
		}
	}

	if n := r.Network; n != nil && n.ClassID != nil {
		if _, v2, ok := h.Where("net_cls"); !ok || v2 {
			return nil, fmt.Errorf("linux.resources.network.classID: no net_cls hierarchy is mounted (cgroup v2 has no such controller: there, match traffic by cgroup with nftables 'socket cgroupv2'); on v1: mkdir /sys/fs/cgroup/net_cls && mount -t cgroup -o net_cls none /sys/fs/cgroup/net_cls")
		}
		out = append(out, Setting{Flag: "linux.resources.network.classID", Controller: "net_cls", File: "net_cls.classid", Value: strconv.FormatUint(uint64(*n.ClassID), 10)})
	}

	if len(r.HugepageLimits) > 0 {
		_, v2, ok := h.Where("hugetlb")
		switch {
		case !ok:
			return nil, fmt.Errorf("linux.resources.hugepageLimits: the hugetlb controller is not mounted on this host (see cg-limit info)")
		case v2 && h.Mode() != ModeV2:
			// Using it would mean enabling it in the v2 root's
			// cgroup.subtree_control: a change to the whole host.
			return nil, fmt.Errorf("linux.resources.hugepageLimits: on this hybrid host hugetlb is only in the cgroup v2 tree (%s), where ctrkit sets no limits; mount it as v1 (mkdir /sys/fs/cgroup/hugetlb && mount -t cgroup -o hugetlb none /sys/fs/cgroup/hugetlb) or use a pure v2 host", h.Unified)
		}
		hs := append([]specs.LinuxHugepageLimit(nil), r.HugepageLimits...)
		sort.SliceStable(hs, func(i, j int) bool { return hs[i].Pagesize < hs[j].Pagesize })
		for _, l := range hs {
			s := Setting{Flag: "linux.resources.hugepageLimits", Controller: "hugetlb", V2: v2,
				File: "hugetlb." + l.Pagesize + ".limit_in_bytes", Value: strconv.FormatUint(l.Limit, 10)}
			if v2 {
				s.File = "hugetlb." + l.Pagesize + ".max"
			}
			out = append(out, s)
		}
	}
	return out, nil
}
