package main

import (
	"fmt"
	"strconv"

	"ctrkit/cg-limit/cgroup"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Limits are the limit flags, named as docker's. They are strings so that
// "not given" differs from "0", and so that a bad value is reported with
// the flag's name.
type Limits struct {
	Memory            string   `short:"m" help:"Memory limit: 64m, 1g (k, m, g, t suffixes, powers of 1024)." placeholder:"SIZE" group:"Limits"`
	MemorySwap        string   `help:"Memory plus swap (docker's meaning); -1 for unlimited swap; default: as much swap as --memory." placeholder:"SIZE" group:"Limits"`
	MemoryReservation string   `help:"Soft memory limit, reclaimed first under pressure." placeholder:"SIZE" group:"Limits"`
	CPUs              string   `name:"cpus" help:"CPU time as a number of CPUs: 0.5 is 50 ms of every 100 ms." placeholder:"N" group:"Limits"`
	CPUShares         string   `name:"cpu-shares" help:"Relative CPU weight under contention (default 1024)." placeholder:"N" group:"Limits"`
	CPUPeriod         string   `name:"cpu-period" help:"CFS period in µs (default 100000)." placeholder:"US" group:"Limits"`
	CPUQuota          string   `name:"cpu-quota" help:"CPU time allowed per period, in µs." placeholder:"US" group:"Limits"`
	CpusetCpus        string   `name:"cpuset-cpus" help:"CPUs the processes may run on: 0-1,3." placeholder:"LIST" group:"Limits"`
	CpusetMems        string   `name:"cpuset-mems" help:"Memory nodes they may allocate on." placeholder:"LIST" group:"Limits"`
	PidsLimit         string   `name:"pids-limit" help:"Most processes and threads at once; -1 for no limit." placeholder:"N" group:"Limits"`
	BlkioWeight       string   `name:"blkio-weight" help:"Relative I/O weight, 10 to 1000 (needs the BFQ scheduler)." placeholder:"N" group:"Limits"`
	DeviceReadBps     []string `name:"device-read-bps" sep:"none" help:"Read rate limit of a block device: /dev/sda:1mb." placeholder:"DEV:RATE" group:"Limits"`
	DeviceWriteBps    []string `name:"device-write-bps" sep:"none" help:"Write rate limit of a block device." placeholder:"DEV:RATE" group:"Limits"`
	DeviceReadIOPS    []string `name:"device-read-iops" sep:"none" help:"Read operations per second of a block device." placeholder:"DEV:N" group:"Limits"`
	DeviceWriteIOPS   []string `name:"device-write-iops" sep:"none" help:"Write operations per second of a block device." placeholder:"DEV:N" group:"Limits"`
	NetPrio           []string `name:"net-prio" sep:"none" help:"Network priority of the traffic on an interface (cgroup v1 net_prio only)." placeholder:"IFACE:PRIO" group:"Limits"`
}

// DeviceFlags are the device allowlist flags, named as docker's.
type DeviceFlags struct {
	Privileged       bool     `help:"Allow every device (\"a *:* rwm\"), like docker run --privileged: replaces the spec's linux.resources.devices." group:"Devices"`
	DeviceCgroupRule []string `name:"device-cgroup-rule" sep:"none" help:"Also allow the devices a rule matches, \"TYPE MAJOR:MINOR ACCESS\": 'c 1:3 rwm', 'b 7:* r' (* for any number); repeatable. Alone, it allows only those devices." placeholder:"RULE" group:"Devices"`
}

// devices lays the flags over the device list base: --privileged replaces
// it with "allow everything", each --device-cgroup-rule adds an allow rule
// at its end (as docker adds them to its default list).
func (f *DeviceFlags) devices(base []specs.LinuxDeviceCgroup) ([]specs.LinuxDeviceCgroup, error) {
	if f.Privileged {
		return append([]specs.LinuxDeviceCgroup(nil), cgroup.AllowAll...), nil
	}
	out := append([]specs.LinuxDeviceCgroup(nil), base...)
	for _, r := range f.DeviceCgroupRule {
		d, err := cgroup.ParseRule(r)
		if err != nil {
			return nil, fmt.Errorf("--device-cgroup-rule: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// Resources parses the flags into OCI resources, nil fields for flags not
// given. Every error names its flag.
func (l *Limits) Resources() (*specs.LinuxResources, error) {
	r := &specs.LinuxResources{}
	size := func(flag, v string, allowUnlimited bool) (*int64, error) {
		if v == "" {
			return nil, nil
		}
		if allowUnlimited && v == "-1" {
			n := int64(-1)
			return &n, nil
		}
		n, err := cgroup.ParseSize(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		if n < 4096 && n != 0 {
			return nil, fmt.Errorf("%s %s: too small to run anything (at least 4k)", flag, v)
		}
		return &n, nil
	}
	var mem specs.LinuxMemory
	var err error
	if mem.Limit, err = size("--memory", l.Memory, true); err != nil {
		return nil, err
	}
	if mem.Swap, err = size("--memory-swap", l.MemorySwap, true); err != nil {
		return nil, err
	}
	if mem.Reservation, err = size("--memory-reservation", l.MemoryReservation, false); err != nil {
		return nil, err
	}
	if mem != (specs.LinuxMemory{}) {
		r.Memory = &mem
	}

	var cpu specs.LinuxCPU
	uint := func(flag, v string) (*uint64, error) {
		if v == "" {
			return nil, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s %q: want a whole number", flag, v)
		}
		return &n, nil
	}
	if cpu.Shares, err = uint("--cpu-shares", l.CPUShares); err != nil {
		return nil, err
	}
	if cpu.Period, err = uint("--cpu-period", l.CPUPeriod); err != nil {
		return nil, err
	}
	if l.CPUQuota != "" {
		q, err := strconv.ParseInt(l.CPUQuota, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--cpu-quota %q: want a number of µs (-1 for none)", l.CPUQuota)
		}
		cpu.Quota = &q
	}
	if l.CPUs != "" {
		if l.CPUQuota != "" || l.CPUPeriod != "" {
			return nil, fmt.Errorf("--cpus: give either --cpus or --cpu-period/--cpu-quota, not both")
		}
		q, err := cgroup.ParseCPUs(l.CPUs)
		if err != nil {
			return nil, fmt.Errorf("--cpus: %w", err)
		}
		p := uint64(cgroup.DefaultPeriod)
		cpu.Quota, cpu.Period = &q, &p
	}
	if l.CpusetCpus != "" {
		if err := cgroup.CheckList(l.CpusetCpus, cgroup.Online("CPU"), "CPU"); err != nil {
			return nil, fmt.Errorf("--cpuset-cpus: %w", err)
		}
		cpu.Cpus = l.CpusetCpus
	}
	if l.CpusetMems != "" {
		if err := cgroup.CheckList(l.CpusetMems, cgroup.Online("memory node"), "memory node"); err != nil {
			return nil, fmt.Errorf("--cpuset-mems: %w", err)
		}
		cpu.Mems = l.CpusetMems
	}
	if cpu.Shares != nil || cpu.Quota != nil || cpu.Period != nil || cpu.Cpus != "" || cpu.Mems != "" {
		r.CPU = &cpu
	}

	if l.PidsLimit != "" {
		n, err := strconv.ParseInt(l.PidsLimit, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--pids-limit %q: want a number (-1 for no limit)", l.PidsLimit)
		}
		r.Pids = &specs.LinuxPids{Limit: &n}
	}

	var bio specs.LinuxBlockIO
	if l.BlkioWeight != "" {
		n, err := strconv.ParseUint(l.BlkioWeight, 10, 16)
		if err != nil || n < 10 || n > 1000 {
			return nil, fmt.Errorf("--blkio-weight %q: want a number from 10 to 1000", l.BlkioWeight)
		}
		w := uint16(n)
		bio.Weight = &w
	}
	for _, d := range []struct {
		flag string
		vals []string
		bps  bool
		into *[]specs.LinuxThrottleDevice
	}{
		{"--device-read-bps", l.DeviceReadBps, true, &bio.ThrottleReadBpsDevice},
		{"--device-write-bps", l.DeviceWriteBps, true, &bio.ThrottleWriteBpsDevice},
		{"--device-read-iops", l.DeviceReadIOPS, false, &bio.ThrottleReadIOPSDevice},
		{"--device-write-iops", l.DeviceWriteIOPS, false, &bio.ThrottleWriteIOPSDevice},
	} {
		for _, v := range d.vals {
			dr, err := cgroup.ParseDeviceRate(v, d.bps)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", d.flag, err)
			}
			if err := dr.Resolve(); err != nil {
				return nil, fmt.Errorf("%s: %w", d.flag, err)
			}
			td := specs.LinuxThrottleDevice{Rate: dr.Rate}
			td.Major, td.Minor = dr.Major, dr.Minor
			*d.into = append(*d.into, td)
		}
	}
	if bio.Weight != nil || len(bio.ThrottleReadBpsDevice)+len(bio.ThrottleWriteBpsDevice)+len(bio.ThrottleReadIOPSDevice)+len(bio.ThrottleWriteIOPSDevice) > 0 {
		r.BlockIO = &bio
	}

	for _, v := range l.NetPrio {
		iface, prio, err := cgroup.ParseNetPrio(v)
		if err != nil {
			return nil, fmt.Errorf("--net-prio: %w", err)
		}
		if r.Network == nil {
			r.Network = &specs.LinuxNetwork{}
		}
		r.Network.Priorities = append(r.Network.Priorities, specs.LinuxInterfacePriority{Name: iface, Priority: prio})
	}
	return r, nil
}

// merge lays the limits given as flags over those a document already has.
func merge(base, flags *specs.LinuxResources) *specs.LinuxResources {
	if base == nil {
		return flags
	}
	out := *base
	if flags.Memory != nil {
		m := specs.LinuxMemory{}
		if out.Memory != nil {
			m = *out.Memory
		}
		if flags.Memory.Limit != nil {
			m.Limit = flags.Memory.Limit
		}
		if flags.Memory.Swap != nil {
			m.Swap = flags.Memory.Swap
		}
		if flags.Memory.Reservation != nil {
			m.Reservation = flags.Memory.Reservation
		}
		out.Memory = &m
	}
	if flags.CPU != nil {
		c := specs.LinuxCPU{}
		if out.CPU != nil {
			c = *out.CPU
		}
		f := flags.CPU
		if f.Shares != nil {
			c.Shares = f.Shares
		}
		if f.Quota != nil {
			c.Quota = f.Quota
		}
		if f.Period != nil {
			c.Period = f.Period
		}
		if f.Cpus != "" {
			c.Cpus = f.Cpus
		}
		if f.Mems != "" {
			c.Mems = f.Mems
		}
		out.CPU = &c
	}
	if flags.Pids != nil {
		out.Pids = flags.Pids
	}
	if flags.BlockIO != nil {
		out.BlockIO = flags.BlockIO
	}
	if flags.Network != nil {
		out.Network = flags.Network
	}
	return &out
}

// ignored names the parts of linux.resources that cg-limit does not apply.
func ignored(r *specs.LinuxResources) []string {
	if r == nil {
		return nil
	}
	var out []string
	if len(r.HugepageLimits) > 0 {
		out = append(out, "hugepageLimits")
	}
	if len(r.Rdma) > 0 {
		out = append(out, "rdma")
	}
	if len(r.Unified) > 0 {
		out = append(out, "unified")
	}
	return out
}
