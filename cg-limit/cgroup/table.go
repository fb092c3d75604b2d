package cgroup

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Mapping is one row of the flag → file table: which docker-style flag
// becomes a write into which file, on cgroup v2 and on cgroup v1.
type Mapping struct {
	Flag       string // as typed: "--memory"
	Controller string // v2 name: memory, cpu, cpuset, io, pids
	V2         string // file on cgroup v2, "" if v2 has none
	V1         string // file on cgroup v1
	Value      string // what is written, for the docs
}

// Table lists every limit cg-limit sets. It is printed by `cg-limit info`
// and by --explain, and copied into docs/02-cgroups.md.
var Table = []Mapping{
	{"--memory", "memory", "memory.max", "memory.limit_in_bytes", "bytes"},
	{"--memory-swap", "memory", "memory.swap.max", "memory.memsw.limit_in_bytes", "v2: swap only (SWAP−MEMORY); v1: memory+swap"},
	{"--memory-reservation", "memory", "memory.low", "memory.soft_limit_in_bytes", "bytes"},
	{"--cpus", "cpu", "cpu.max", "cpu.cfs_quota_us, cpu.cfs_period_us", "v2: \"QUOTA PERIOD\"; v1: one number each (µs)"},
	{"--cpu-quota", "cpu", "cpu.max", "cpu.cfs_quota_us", "µs per period"},
	{"--cpu-period", "cpu", "cpu.max", "cpu.cfs_period_us", "µs"},
	{"--cpu-shares", "cpu", "cpu.weight", "cpu.shares", "v2: 1+(SHARES−2)×9999/262142; v1: SHARES"},
	{"--cpuset-cpus", "cpuset", "cpuset.cpus", "cpuset.cpus", "a list: 0-1,3"},
	{"--cpuset-mems", "cpuset", "cpuset.mems", "cpuset.mems", "a list: 0"},
	{"--pids-limit", "pids", "pids.max", "pids.max", "a number, or max"},
	{"--blkio-weight", "io", "io.weight (io.bfq.weight)", "blkio.weight (blkio.bfq.weight)", "v2: \"default 1+(W−10)×9999/990\"; v1: W"},
	{"--device-read-bps", "io", "io.max", "blkio.throttle.read_bps_device", "v2: \"MAJ:MIN rbps=N\"; v1: \"MAJ:MIN N\""},
	{"--device-write-bps", "io", "io.max", "blkio.throttle.write_bps_device", "v2: \"MAJ:MIN wbps=N\"; v1: \"MAJ:MIN N\""},
	{"--device-read-iops", "io", "io.max", "blkio.throttle.read_iops_device", "v2: \"MAJ:MIN riops=N\"; v1: \"MAJ:MIN N\""},
	{"--device-write-iops", "io", "io.max", "blkio.throttle.write_iops_device", "v2: \"MAJ:MIN wiops=N\"; v1: \"MAJ:MIN N\""},
	{"--net-prio", "net_prio", "", "net_prio.ifpriomap", "\"IFACE PRIO\" (v2 has no net_prio)"},
	{"--device-cgroup-rule", "devices", "BPF_PROG_TYPE_CGROUP_DEVICE program", "devices.deny (\"a\" first), devices.allow", "\"c 1:3 rwm\": TYPE MAJOR:MINOR ACCESS"},
	{"--privileged", "devices", "BPF_PROG_TYPE_CGROUP_DEVICE program", "devices.allow", "\"a\": every device"},
}

// Setting is one write that a limit needs.
type Setting struct {
	Flag       string // the flag it comes from, for errors: "--memory"
	Controller string // memory, cpu, cpuset, io, pids, net_prio
	V2         bool   // whether the file is in the cgroup v2 tree
	File       string // "memory.max"
	Value      string // "67108864"
	Optional   bool   // skipped, with a note, when the kernel lacks the file
	Ignored    bool   // a v1-only field on cgroup v2: noted, not written (as runc)
	BFQ        string // for a weight: the value of BFQ's own file (io.bfq.weight), used when it exists

	// Devices, on cgroup v2, is a device list to compile into a
	// BPF_PROG_TYPE_CGROUP_DEVICE program and attach (see devices.go);
	// File names the program type then, for --explain.
	Devices []specs.LinuxDeviceCgroup
}

// zeroUnset reads 0 as "not set" where runc does: docker's specs carry
// cpu shares, period and quota, memory sizes and the blkio weight as 0 when
// no flag set them.
func zeroUnset(r *specs.LinuxResources) *specs.LinuxResources {
	c := *r
	if r.CPU != nil {
		cpu := *r.CPU
		for _, u := range []**uint64{&cpu.Shares, &cpu.Period} {
			if *u != nil && **u == 0 {
				*u = nil
			}
		}
		if cpu.Quota != nil && *cpu.Quota == 0 {
			cpu.Quota = nil
		}
		c.CPU = &cpu
	}
	if r.Memory != nil {
		m := *r.Memory
		for _, i := range []**int64{&m.Limit, &m.Reservation, &m.Swap} {
			if *i != nil && **i == 0 {
				*i = nil
			}
		}
		c.Memory = &m
	}
	if r.BlockIO != nil && r.BlockIO.Weight != nil && *r.BlockIO.Weight == 0 {
		b := *r.BlockIO
		b.Weight = nil
		c.BlockIO = &b
	}
	return &c
}

// Settings turns OCI resources into the file writes this host needs, in
// the order they must be made. It fails, naming the flag, for a limit whose
// controller is not mounted or that the cgroup version cannot express.
func (h *Host) Settings(r *specs.LinuxResources) ([]Setting, error) {
	if r == nil {
		return nil, nil
	}
	r = zeroUnset(r)
	var out []Setting
	add := func(flag, ctrl, v2file, v1file, v2val, v1val string) error {
		_, v2, ok := h.Where(ctrl)
		if !ok {
			return fmt.Errorf("%s: the %s controller is not mounted on this host (see cg-limit info)", flag, ctrl)
		}
		s := Setting{Flag: flag, Controller: ctrl, V2: v2, File: v1file, Value: v1val}
		if v2 {
			s.File, s.Value = v2file, v2val
		}
		if s.File == "" {
			return fmt.Errorf("%s: cgroup v2 has no %s controller", flag, ctrl)
		}
		out = append(out, s)
		return nil
	}
	i64 := func(n int64) string { return strconv.FormatInt(n, 10) }

	// cpuset first: on v1 a cgroup with an empty cpuset.cpus takes no tasks.
	if c := r.CPU; c != nil {
		if c.Cpus != "" {
			if err := add("--cpuset-cpus", "cpuset", "cpuset.cpus", "cpuset.cpus", c.Cpus, c.Cpus); err != nil {
				return nil, err
			}
		}
		if c.Mems != "" {
			if err := add("--cpuset-mems", "cpuset", "cpuset.mems", "cpuset.mems", c.Mems, c.Mems); err != nil {
				return nil, err
			}
		}
	}

	if m := r.Memory; m != nil {
		if m.Limit != nil {
			if err := add("--memory", "memory", "memory.max", "memory.limit_in_bytes", v2Limit(*m.Limit), i64(*m.Limit)); err != nil {
				return nil, err
			}
		}
		switch {
		case m.Swap != nil:
			if m.Limit == nil && *m.Swap != -1 {
				return nil, fmt.Errorf("--memory-swap: set --memory too (the swap limit counts memory plus swap)")
			}
			if m.Limit != nil && *m.Swap != -1 && *m.Swap < *m.Limit {
				return nil, fmt.Errorf("--memory-swap %s is less than --memory %s: it is the total of memory and swap, so it must be at least as large", FormatSize(*m.Swap), FormatSize(*m.Limit))
			}
			v2 := "max"
			if *m.Swap != -1 {
				v2 = i64(*m.Swap - *m.Limit)
			}
			if err := add("--memory-swap", "memory", "memory.swap.max", "memory.memsw.limit_in_bytes", v2, i64(*m.Swap)); err != nil {
				return nil, err
			}
		case m.Limit != nil && *m.Limit > 0:
			// docker's rule: --memory alone allows as much swap again.
			if err := add("--memory", "memory", "memory.swap.max", "memory.memsw.limit_in_bytes", i64(*m.Limit), i64(2**m.Limit)); err != nil {
				return nil, err
			}
			out[len(out)-1].Optional = true
		}
		if m.Reservation != nil {
			if err := add("--memory-reservation", "memory", "memory.low", "memory.soft_limit_in_bytes", i64(*m.Reservation), i64(*m.Reservation)); err != nil {
				return nil, err
			}
		}
	}

	if c := r.CPU; c != nil {
		if c.Shares != nil {
			if *c.Shares < 2 || *c.Shares > 262144 {
				return nil, fmt.Errorf("--cpu-shares %d: must be between 2 and 262144", *c.Shares)
			}
			if err := add("--cpu-shares", "cpu", "cpu.weight", "cpu.shares", strconv.FormatUint(SharesToWeight(*c.Shares), 10), strconv.FormatUint(*c.Shares, 10)); err != nil {
				return nil, err
			}
		}
		if c.Quota != nil || c.Period != nil {
			period := uint64(DefaultPeriod)
			if c.Period != nil {
				period = *c.Period
			}
			if period < 1000 || period > 1000000 {
				return nil, fmt.Errorf("--cpu-period %d: must be between 1000 and 1000000 µs", period)
			}
			quota := "max"
			if c.Quota != nil && *c.Quota > 0 {
				if *c.Quota < 1000 {
					return nil, fmt.Errorf("--cpu-quota %d: must be at least 1000 µs", *c.Quota)
				}
				quota = i64(*c.Quota)
			}
			_, v2, ok := h.Where("cpu")
			switch {
			case !ok:
				return nil, fmt.Errorf("--cpus: the cpu controller is not mounted on this host (see cg-limit info)")
			case v2:
				out = append(out, Setting{Flag: "--cpus", Controller: "cpu", V2: true, File: "cpu.max", Value: quota + " " + strconv.FormatUint(period, 10)})
			default:
				v1q := "-1"
				if quota != "max" {
					v1q = quota
				}
				out = append(out,
					Setting{Flag: "--cpu-period", Controller: "cpu", File: "cpu.cfs_period_us", Value: strconv.FormatUint(period, 10)},
					Setting{Flag: "--cpus", Controller: "cpu", File: "cpu.cfs_quota_us", Value: v1q})
			}
		}
	}

	if p := r.Pids; p != nil {
		v := "max"
		if p.Limit != nil && *p.Limit > 0 {
			v = i64(*p.Limit)
		}
		if err := add("--pids-limit", "pids", "pids.max", "pids.max", v, v); err != nil {
			return nil, err
		}
	}

	if b := r.BlockIO; b != nil {
		if b.Weight != nil {
			w := *b.Weight
			if w < 10 || w > 1000 {
				return nil, fmt.Errorf("--blkio-weight %d: must be between 10 and 1000", w)
			}
			if err := add("--blkio-weight", "io", "io.weight", "blkio.weight", "default "+strconv.Itoa(1+(int(w)-10)*9999/990), strconv.Itoa(int(w))); err != nil {
				return nil, err
			}
			out[len(out)-1].BFQ = strconv.Itoa(int(w)) // BFQ takes docker's 10-1000 as it is
		}
		type dev struct{ major, minor int64 }
		v2max := map[dev][]string{}
		var order []dev
		throttle := func(flag, key, v1file string, ds []specs.LinuxThrottleDevice) error {
			for _, d := range ds {
				k := dev{d.Major, d.Minor}
				_, v2, ok := h.Where("io")
				if !ok {
					return fmt.Errorf("%s: the io (v1: blkio) controller is not mounted on this host (see cg-limit info)", flag)
				}
				if v2 {
					if _, seen := v2max[k]; !seen {
						order = append(order, k)
					}
					v2max[k] = append(v2max[k], fmt.Sprintf("%s=%d", key, d.Rate))
					continue
				}
				out = append(out, Setting{Flag: flag, Controller: "io", File: v1file, Value: fmt.Sprintf("%d:%d %d", d.Major, d.Minor, d.Rate)})
			}
			return nil
		}
		for _, t := range []struct {
			flag, key, v1 string
			ds            []specs.LinuxThrottleDevice
		}{
			{"--device-read-bps", "rbps", "blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
			{"--device-write-bps", "wbps", "blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
			{"--device-read-iops", "riops", "blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
			{"--device-write-iops", "wiops", "blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
		} {
			if err := throttle(t.flag, t.key, t.v1, t.ds); err != nil {
				return nil, err
			}
		}
		for _, k := range order {
			out = append(out, Setting{Flag: "--device-" + flagOf(v2max[k][0]), Controller: "io", V2: true, File: "io.max",
				Value: fmt.Sprintf("%d:%d %s", k.major, k.minor, strings.Join(v2max[k], " "))})
		}
	}

	if len(r.Devices) > 0 {
		_, v2, ok := h.Where("devices")
		switch {
		case !ok:
			return nil, fmt.Errorf("%s: no devices hierarchy and no cgroup2 is mounted (mount -t cgroup -o devices none /sys/fs/cgroup/devices)", devicesFlag)
		case v2:
			for _, d := range r.Devices {
				if err := CheckRule(d); err != nil {
					return nil, fmt.Errorf("%s: %w", devicesFlag, err)
				}
			}
			out = append(out, Setting{Flag: devicesFlag, Controller: "devices", V2: true, File: "BPF_PROG_TYPE_CGROUP_DEVICE program", Devices: r.Devices})
		default:
			ws, err := V1Writes(r.Devices)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", devicesFlag, err)
			}
			out = append(out, ws...)
		}
	}

	if n := r.Network; n != nil && len(n.Priorities) > 0 {
		if _, v2, ok := h.Where("net_prio"); !ok || v2 {
			return nil, fmt.Errorf("--net-prio: no net_prio hierarchy is mounted (cgroup v2 has no such controller: there, tag traffic by cgroup with nftables, 'meta cgroup' / 'socket cgroupv2', or tc); on v1: mkdir /sys/fs/cgroup/net_prio && mount -t cgroup -o net_prio none /sys/fs/cgroup/net_prio")
		}
		ps := append([]specs.LinuxInterfacePriority(nil), n.Priorities...)
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
		for _, p := range ps {
			out = append(out, Setting{Flag: "--net-prio", Controller: "net_prio", File: "net_prio.ifpriomap", Value: fmt.Sprintf("%s %d", p.Name, p.Priority)})
		}
	}
	more, err := h.specOnly(r)
	if err != nil {
		return nil, err
	}
	return append(out, more...), nil
}

// flagOf names the flag behind an io.max key: "wbps=1048576" → "write-bps".
func flagOf(kv string) string {
	k, _, _ := strings.Cut(kv, "=")
	dir := map[byte]string{'r': "read", 'w': "write"}[k[0]]
	return dir + "-" + k[1:]
}

// v2Limit writes a limit the v2 way: -1 (docker's "unlimited") is "max".
func v2Limit(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// SharesToWeight converts v1 cpu.shares (2…262144, default 1024) to v2
// cpu.weight (1…10000, default 100), the way runc and the kernel's
// documentation do: a linear map of one range onto the other.
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
}
