package cgroup

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const mountinfoHybrid = `25 30 0:23 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
27 25 0:25 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
29 25 0:27 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
31 25 0:29 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
32 25 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
33 25 0:31 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
34 25 0:32 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio
`

const mountinfoV2 = `25 30 0:23 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
`

func hosts(t *testing.T) (v1, v2 *Host) {
	t.Helper()
	v1 = parseMountInfo(strings.NewReader(mountinfoHybrid))
	v2 = parseMountInfo(strings.NewReader(mountinfoV2))
	for _, c := range []string{"cpuset", "cpu", "io", "memory", "pids"} {
		v2.V2[c] = true
	}
	return v1, v2
}

func TestDetectModes(t *testing.T) {
	v1, v2 := hosts(t)
	if v1.Mode() != ModeHybrid || v2.Mode() != ModeV2 {
		t.Errorf("Mode() = %s, %s, want hybrid, v2", v1.Mode(), v2.Mode())
	}
	if m := parseMountInfo(strings.NewReader(strings.Replace(mountinfoHybrid, "26 25 0:24 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "", 1))); m.Mode() != ModeV1 {
		t.Errorf("Mode() without cgroup2 = %s, want v1", m.Mode())
	}
	if got, want := v1.V1["cpuacct"], "/sys/fs/cgroup/cpu,cpuacct"; got != want {
		t.Errorf("V1[cpuacct] = %q, want %q", got, want)
	}
	if _, ok := v1.V1["name=systemd"]; ok {
		t.Errorf("named hierarchy name=systemd taken for a controller")
	}
	for ctrl, want := range map[string]string{"io": "/sys/fs/cgroup/blkio", "freezer": "/sys/fs/cgroup/freezer", "net_prio": "/sys/fs/cgroup/net_cls,net_prio"} {
		if m, v2, ok := v1.Where(ctrl); !ok || v2 || m != want {
			t.Errorf("hybrid Where(%q) = %q, %v, %v, want %q on v1", ctrl, m, v2, ok, want)
		}
	}
	if m, isV2, ok := v2.Where("freezer"); !ok || !isV2 || m != "/sys/fs/cgroup" {
		t.Errorf("v2 Where(freezer) = %q, %v, %v, want the v2 root", m, isV2, ok)
	}
	if _, _, ok := v2.Where("net_prio"); ok {
		t.Errorf("v2 Where(net_prio) found one; v2 has no net_prio")
	}
	if got, want := v2.hierarchies(baseControllers), []string{"/sys/fs/cgroup"}; !cmp.Equal(got, want) {
		t.Errorf("v2 hierarchies = %v, want %v", got, want)
	}
}

func i64(n int64) *int64   { return &n }
func u64(n uint64) *uint64 { return &n }
func u16(n uint16) *uint16 { return &n }

// TestSettings is the flag → file table, checked for both versions.
func TestSettings(t *testing.T) {
	v1, v2 := hosts(t)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20), Reservation: i64(32 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64(512), Quota: i64(25000), Period: u64(100000), Cpus: "0-1", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: i64(10)},
		BlockIO: &specs.LinuxBlockIO{
			Weight:                 u16(500),
			ThrottleReadBpsDevice:  []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 7, Minor: 0}, Rate: 1 << 20}},
			ThrottleWriteBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 7, Minor: 0}, Rate: 2 << 20}},
		},
	}
	type fv struct{ File, Value string }
	files := func(ss []Setting) []fv {
		var out []fv
		for _, s := range ss {
			out = append(out, fv{s.File, s.Value})
		}
		return out
	}
	got, err := v2.Settings(r)
	if err != nil {
		t.Fatalf("v2 Settings: %v", err)
	}
	want := []fv{
		{"cpuset.cpus", "0-1"}, {"cpuset.mems", "0"},
		{"memory.max", "67108864"}, {"memory.swap.max", "33554432"}, {"memory.low", "33554432"},
		{"cpu.weight", "20"}, {"cpu.max", "25000 100000"},
		{"pids.max", "10"},
		{"io.weight", "default 4950"},
		{"io.max", "7:0 rbps=1048576 wbps=2097152"},
	}
	if diff := cmp.Diff(want, files(got)); diff != "" {
		t.Errorf("v2 Settings mismatch (-want +got):\n%s", diff)
	}
	got, err = v1.Settings(r)
	if err != nil {
		t.Fatalf("v1 Settings: %v", err)
	}
	want = []fv{
		{"cpuset.cpus", "0-1"}, {"cpuset.mems", "0"},
		{"memory.limit_in_bytes", "67108864"}, {"memory.memsw.limit_in_bytes", "100663296"}, {"memory.soft_limit_in_bytes", "33554432"},
		{"cpu.shares", "512"}, {"cpu.cfs_period_us", "100000"}, {"cpu.cfs_quota_us", "25000"},
		{"pids.max", "10"},
		{"blkio.weight", "500"},
		{"blkio.throttle.read_bps_device", "7:0 1048576"}, {"blkio.throttle.write_bps_device", "7:0 2097152"},
	}
	if diff := cmp.Diff(want, files(got)); diff != "" {
		t.Errorf("v1 Settings mismatch (-want +got):\n%s", diff)
	}
}

func TestSettingsDefaults(t *testing.T) {
	v1, v2 := hosts(t)
	r := &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(32 << 20)}, Pids: &specs.LinuxPids{Limit: i64(-1)}}
	for _, tc := range []struct {
		h    *Host
		swap string
	}{{v2, "33554432"}, {v1, "67108864"}} {
		ss, err := tc.h.Settings(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != 3 || !ss[1].Optional || ss[1].Value != tc.swap || ss[2].Value != "max" {
			t.Errorf("Settings(-m 32m --pids-limit -1) on %s = %+v, want an optional swap limit of %s and pids.max max", tc.h.Mode(), ss, tc.swap)
		}
	}
}

func TestSettingsErrors(t *testing.T) {
	v1, v2 := hosts(t)
	for _, tc := range []struct {
		h    *Host
		r    specs.LinuxResources
		want string
	}{
		{v2, specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(32 << 20)}}, "--memory-swap 32M is less than --memory 64M"},
		{v2, specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(32 << 20)}}, "--memory-swap: set --memory too"},
		{v2, specs.LinuxResources{Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "eth0", Priority: 1}}}}, "--net-prio: no net_prio hierarchy"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Shares: u64(1)}}, "--cpu-shares 1: must be between 2 and 262144"},
		{v1, specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64(500)}}, "--cpu-quota 500"},
		{&Host{V2: map[string]bool{}, V1: map[string]string{"memory": "/m"}}, specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}}, "--pids-limit: the pids controller is not mounted"},
	} {
		_, err := tc.h.Settings(&tc.r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Settings(%+v) on %s = %v, want an error containing %q", tc.r, tc.h.Mode(), err, tc.want)
		}
	}
}

// TestTableCoversSettings checks that every file Settings writes appears in
// the documented Table, for its flag.
func TestTableCoversSettings(t *testing.T) {
	byFlag := map[string]Mapping{}
	for _, m := range Table {
		byFlag[m.Flag] = m
	}
	v1, v2 := hosts(t)
	r := &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Swap: i64(96 << 20), Reservation: i64(32 << 20)},
		CPU:    &specs.LinuxCPU{Shares: u64(512), Quota: i64(25000), Cpus: "0", Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: i64(10)},
		BlockIO: &specs.LinuxBlockIO{Weight: u16(100),
			ThrottleReadIOPSDevice:  []specs.LinuxThrottleDevice{{Rate: 5}},
			ThrottleWriteIOPSDevice: []specs.LinuxThrottleDevice{{Rate: 5}}},
		Network: &specs.LinuxNetwork{Priorities: []specs.LinuxInterfacePriority{{Name: "lo", Priority: 1}}},
	}
	for _, h := range []*Host{v1, v2} {
		if h.Mode() == ModeV2 {
			r.Network = nil
		}
		ss, err := h.Settings(r)
		if err != nil {
			t.Fatalf("Settings on %s: %v", h.Mode(), err)
		}
		for _, s := range ss {
			m, ok := byFlag[s.Flag]
			if !ok {
				t.Errorf("%s: flag %s is not in Table", h.Mode(), s.Flag)
				continue
			}
			doc := m.V1
			if s.V2 {
				doc = m.V2
			}
			if s.Optional {
				doc = byFlag["--memory-swap"].V1 + byFlag["--memory-swap"].V2
			}
			if !strings.Contains(doc, s.File) {
				t.Errorf("%s: %s writes %s, but Table says %q", h.Mode(), s.Flag, s.File, doc)
			}
		}
	}
}
