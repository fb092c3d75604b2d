package cgroup

import (
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// sizeRE is compiled on first use, not at every start of cg-limit.
var sizeRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+(?:\.\d+)?) ?([kKmMgGtTpP])?[iI]?[bB]?$`)
})

// ParseSize reads a size the way docker does: a number of bytes with an
// optional binary suffix, k, m, g, t or p (also kb, KiB, MB …, all powers
// of 1024): "64m" is 67108864.
func ParseSize(s string) (int64, error) {
	m := sizeRE().FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("invalid size %q: want a number with an optional k, m, g or t suffix, like 64m", s)
	}
	n, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("invalid size %q: %w", s, err)
	}
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}[strings.ToLower(m[2])]
	v := n * mult
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(v), nil
}

// FormatSize prints bytes the short way: 64M, 1.5G, 512K, 100.
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		v int64
	}{{"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if n >= u.v {
			f := float64(n) / float64(u.v)
			if f == math.Trunc(f) {
				return fmt.Sprintf("%d%s", int64(f), u.s)
			}
			return fmt.Sprintf("%.1f%s", f, u.s)
		}
	}
	return strconv.FormatInt(n, 10)
}

// DefaultPeriod is the CFS period --cpus uses, in microseconds (100 ms), as
// docker does.
const DefaultPeriod = 100000

// ParseCPUs reads --cpus, a number of CPUs (0.5, 2), and returns the CFS
// quota for the default period: 0.25 CPUs is 25000 µs every 100000 µs.
func ParseCPUs(s string) (quota int64, err error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("invalid number of CPUs %q: want a positive number like 0.5 or 2", s)
	}
	q := int64(math.Round(f * DefaultPeriod))
	if q < 1000 {
		return 0, fmt.Errorf("invalid number of CPUs %q: the kernel's smallest quota is 1 ms per 100 ms, 0.01 CPUs", s)
	}
	return q, nil
}

// ParseList reads a kernel CPU or memory-node list, "0-3,6", into sorted,
// distinct numbers.
func ParseList(s string) ([]int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("empty list")
	}
	seen := map[int]bool{}
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return nil, fmt.Errorf("invalid list %q: want numbers and ranges like 0-2,4", s)
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("invalid list %q: range too large", s)
		}
		for i := a; i <= b; i++ {
			if !seen[i] {
				seen[i] = true
				out = append(out, i)
			}
		}
	}
	sort.Ints(out)
	return out, nil
}

// CheckList returns an error naming the first number of want that is not
// in have (both kernel lists); what is "CPU" or "memory node".
func CheckList(want, have, what string) error {
	w, err := ParseList(want)
	if err != nil {
		return err
	}
	h, err := ParseList(have)
	if err != nil {
		return fmt.Errorf("read online %ss %q: %w", what, have, err)
	}
	ok := map[int]bool{}
	for _, i := range h {
		ok[i] = true
	}
	for _, i := range w {
		if !ok[i] {
			return fmt.Errorf("%s %d is not online (online: %s)", what, i, strings.TrimSpace(have))
		}
	}
	return nil
}

// DeviceRate is one --device-*-bps/iops value, "DEV:RATE".
type DeviceRate struct {
	Path         string
	Major, Minor int64
	Rate         uint64
}

// ParseDeviceRate splits "/dev/sda:1mb" into the path and the rate: a size
// (k, m, g suffixes) for bytes per second when bps is true, a plain number
// of operations per second otherwise. It does not look at the device.
func ParseDeviceRate(s string, bps bool) (DeviceRate, error) {
	i := strings.LastIndex(s, ":")
	if i <= 0 || i == len(s)-1 {
		return DeviceRate{}, fmt.Errorf("invalid value %q: want DEVICE:RATE, like /dev/sda:1mb", s)
	}
	d := DeviceRate{Path: s[:i]}
	r := s[i+1:]
	if bps {
		n, err := ParseSize(r)
		if err != nil {
			return d, err
		}
		d.Rate = uint64(n)
	} else {
		n, err := strconv.ParseUint(r, 10, 64)
		if err != nil {
			return d, fmt.Errorf("invalid rate %q: want a number of operations per second", r)
		}
		d.Rate = n
	}
	if d.Rate == 0 {
		return d, fmt.Errorf("invalid rate in %q: must be more than 0", s)
	}
	return d, nil
}

// Resolve fills in the device numbers, which the kernel files want
// ("8:0"); the path must be a block device.
func (d *DeviceRate) Resolve() error {
	var st unix.Stat_t
	if err := unix.Stat(d.Path, &st); err != nil {
		return fmt.Errorf("device %s: %w", d.Path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return fmt.Errorf("%s is not a block device (ls -l shows 'b' first for one, like /dev/sda or /dev/loop0)", d.Path)
	}
	d.Major, d.Minor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	return nil
}

// Online reads the kernel's list of online CPUs or memory nodes.
func Online(what string) string {
	file := "/sys/devices/system/cpu/online"
	if what == "memory node" {
		file = "/sys/devices/system/node/online"
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "0" // no NUMA information: one node, 0
	}
	return strings.TrimSpace(string(data))
}

// ParseNetPrio reads --net-prio IFACE:PRIO.
func ParseNetPrio(s string) (iface string, prio uint32, err error) {
	iface, p, ok := strings.Cut(s, ":")
	n, perr := strconv.ParseUint(p, 10, 32)
	if !ok || iface == "" || perr != nil {
		return "", 0, fmt.Errorf("invalid value %q: want INTERFACE:PRIORITY, like eth0:5", s)
	}
	return iface, uint32(n), nil
}
