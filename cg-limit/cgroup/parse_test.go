package cgroup

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"100", 100}, {"64m", 64 << 20}, {"64M", 64 << 20}, {"64mb", 64 << 20}, {"64MiB", 64 << 20},
		{"1g", 1 << 30}, {"1.5g", 3 << 29}, {"512k", 512 << 10}, {"2t", 2 << 40}, {"10 m", 10 << 20},
	} {
		got, err := ParseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v, want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "m", "12x", "-5m", "1e9", "64 mbytes", "1..5g"} {
		if got, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{100: "100", 64 << 20: "64M", 3 << 29: "1.5G", 4096: "4K"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseCPUs(t *testing.T) {
	for in, want := range map[string]int64{"0.25": 25000, "1": 100000, "1.5": 150000, "0.01": 1000} {
		got, err := ParseCPUs(in)
		if err != nil || got != want {
			t.Errorf("ParseCPUs(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1", "abc", "0.001", "NaN", "Inf"} {
		if got, err := ParseCPUs(bad); err == nil {
			t.Errorf("ParseCPUs(%q) = %d, want an error", bad, got)
		}
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("0-2,4,1")
	if want := []int{0, 1, 2, 4}; err != nil || !cmp.Equal(got, want) {
		t.Errorf("ParseList(%q) = %v, %v, want %v", "0-2,4,1", got, err, want)
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1,,2", "0-"} {
		if got, err := ParseList(bad); err == nil {
			t.Errorf("ParseList(%q) = %v, want an error", bad, got)
		}
	}
}

func TestCheckList(t *testing.T) {
	if err := CheckList("0-1", "0-3", "CPU"); err != nil {
		t.Errorf("CheckList(0-1, 0-3) = %v, want nil", err)
	}
	err := CheckList("1,7", "0-3", "CPU")
	if err == nil || !strings.Contains(err.Error(), "CPU 7 is not online (online: 0-3)") {
		t.Errorf("CheckList(1,7, 0-3) = %v, want CPU 7 is not online", err)
	}
}

func TestParseDeviceRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		bps  bool
		want DeviceRate
	}{
		{"/dev/sda:1mb", true, DeviceRate{Path: "/dev/sda", Rate: 1 << 20}},
		{"/dev/loop0:512k", true, DeviceRate{Path: "/dev/loop0", Rate: 512 << 10}},
		{"/dev/vda:100", false, DeviceRate{Path: "/dev/vda", Rate: 100}},
		{"/dev/disk/by-id/a:b:2m", true, DeviceRate{Path: "/dev/disk/by-id/a:b", Rate: 2 << 20}},
	} {
		got, err := ParseDeviceRate(tc.in, tc.bps)
		if err != nil || got != tc.want {
			t.Errorf("ParseDeviceRate(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"/dev/sda", ":1m", "/dev/sda:", "/dev/sda:0", "/dev/sda:fast"} {
		if got, err := ParseDeviceRate(bad, true); err == nil {
			t.Errorf("ParseDeviceRate(%q) = %+v, want an error", bad, got)
		}
	}
	if _, err := ParseDeviceRate("/dev/sda:1m", false); err == nil {
		t.Errorf("ParseDeviceRate(%q, iops) = nil error, want one: iops takes no suffix", "/dev/sda:1m")
	}
}

func TestResolveNotBlock(t *testing.T) {
	d := DeviceRate{Path: "/dev/null"}
	if err := d.Resolve(); err == nil || !strings.Contains(err.Error(), "not a block device") {
		t.Errorf("Resolve(/dev/null) = %v, want 'not a block device'", err)
	}
	d = DeviceRate{Path: t.TempDir() + "/nothing"}
	if err := d.Resolve(); err == nil {
		t.Errorf("Resolve(missing) = nil, want an error")
	}
}

func TestParseNetPrio(t *testing.T) {
	iface, prio, err := ParseNetPrio("eth0:5")
	if err != nil || iface != "eth0" || prio != 5 {
		t.Errorf("ParseNetPrio(eth0:5) = %q, %d, %v", iface, prio, err)
	}
	for _, bad := range []string{"eth0", ":5", "eth0:x", "eth0:-1"} {
		if _, _, err := ParseNetPrio(bad); err == nil {
			t.Errorf("ParseNetPrio(%q) = nil error, want one", bad)
		}
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000} {
		if got := SharesToWeight(shares); got != want {
			t.Errorf("SharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}
