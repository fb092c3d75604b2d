package cgroup

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Stats is what the kernel counts for a cgroup. Times are microseconds,
// sizes bytes; -1 means "no limit" for a limit, or "not available".
type Stats struct {
	Name   string      `json:"name"`
	Path   string      `json:"path"`
	Frozen bool        `json:"frozen"`
	CPU    CPUStats    `json:"cpu"`
	Memory MemoryStats `json:"memory"`
	Pids   PidsStats   `json:"pids"`
	IO     []IOStats   `json:"io"`
	// Devices are the device rules: devices.list on v1, the attached
	// device programs on v2 (see devices.go).
	Devices []string `json:"devices,omitempty"`
}

// CPUStats come from cpu.stat (v2), cpuacct.usage and cpu.stat (v1).
type CPUStats struct {
	UsageUsec     int64 `json:"usage_usec"`
	Periods       int64 `json:"nr_periods"`     // CFS periods with runnable tasks
	Throttled     int64 `json:"nr_throttled"`   // periods in which the quota ran out
	ThrottledUsec int64 `json:"throttled_usec"` // time spent waiting for the next period
}

// MemoryStats come from memory.current/peak/max/events (v2) and
// memory.usage_in_bytes/max_usage_in_bytes/limit_in_bytes/oom_control (v1).
type MemoryStats struct {
	Current  int64 `json:"current"`
	Peak     int64 `json:"peak"`
	Limit    int64 `json:"limit"`
	OOMKills int64 `json:"oom_kills"` // processes the OOM killer ended
}

// PidsStats come from pids.current and pids.max.
type PidsStats struct {
	Current int64 `json:"current"`
	Limit   int64 `json:"limit"`
}

// IOStats is one block device's traffic, from io.stat (v2) or
// blkio.throttle.io_service_bytes and io_serviced, or BFQ's blkio.bfq.* (v1).
type IOStats struct {
	Device     string `json:"device"` // MAJ:MIN
	ReadBytes  int64  `json:"rbytes"`
	WriteBytes int64  `json:"wbytes"`
	ReadIOs    int64  `json:"rios"`
	WriteIOs   int64  `json:"wios"`
}

// Stats reads the counters of every controller the cgroup is in.
func (c *Cgroup) Stats() (*Stats, error) {
	s := &Stats{Name: c.Name, Path: c.Path(), Memory: MemoryStats{Limit: -1, Peak: -1}, Pids: PidsStats{Limit: -1}, IO: []IOStats{}}
	var err error
	s.Frozen, err = c.Frozen()
	if err != nil {
		return nil, err
	}
	if d, v2 := c.dir("cpu"); v2 {
		cs, _ := readKeyed(filepath.Join(d, "cpu.stat"))
		s.CPU = CPUStats{cs["usage_usec"], cs["nr_periods"], cs["nr_throttled"], cs["throttled_usec"]}
	} else {
		if d != "" {
			cs, _ := readKeyed(filepath.Join(d, "cpu.stat"))
			s.CPU = CPUStats{Periods: cs["nr_periods"], Throttled: cs["nr_throttled"], ThrottledUsec: cs["throttled_time"] / 1000}
		}
		if d, _ := c.dir("cpuacct"); d != "" {
			s.CPU.UsageUsec = readInt(filepath.Join(d, "cpuacct.usage")) / 1000
		} else if d, v2 := c.dir("freezer"); v2 { // hybrid host: v2 counts CPU in every cgroup
			cs, _ := readKeyed(filepath.Join(d, "cpu.stat"))
			s.CPU.UsageUsec = cs["usage_usec"]
		}
	}
	if d, v2 := c.dir("memory"); d != "" {
		if v2 {
			s.Memory.Current = readInt(filepath.Join(d, "memory.current"))
			s.Memory.Peak = readInt(filepath.Join(d, "memory.peak")) // Linux 5.19
			s.Memory.Limit = readInt(filepath.Join(d, "memory.max"))
			ev, _ := readKeyed(filepath.Join(d, "memory.events"))
			s.Memory.OOMKills = ev["oom_kill"]
		} else {
			s.Memory.Current = readInt(filepath.Join(d, "memory.usage_in_bytes"))
			s.Memory.Peak = readInt(filepath.Join(d, "memory.max_usage_in_bytes"))
			s.Memory.Limit = readInt(filepath.Join(d, "memory.limit_in_bytes"))
			if s.Memory.Limit >= 1<<62 { // v1 says "no limit" with a huge number
				s.Memory.Limit = -1
			}
			oc, _ := readKeyed(filepath.Join(d, "memory.oom_control"))
			s.Memory.OOMKills = oc["oom_kill"] // Linux 4.13
		}
	}
	if d, _ := c.dir("pids"); d != "" {
		s.Pids.Current = readInt(filepath.Join(d, "pids.current"))
		s.Pids.Limit = readInt(filepath.Join(d, "pids.max"))
	}
	if d, v2 := c.dir("io"); d != "" {
		if v2 {
			s.IO = readIOStatV2(filepath.Join(d, "io.stat"))
		} else {
			// The throttle's counters can stay at 0 for a device under BFQ
			// (seen on Linux 6.1); BFQ keeps its own: the larger counts.
			s.IO = readIOStatV1(filepath.Join(d, "blkio.throttle.io_service_bytes"), filepath.Join(d, "blkio.throttle.io_serviced"),
				filepath.Join(d, "blkio.bfq.io_service_bytes"), filepath.Join(d, "blkio.bfq.io_serviced"))
		}
	}
	s.Devices = c.Devices()
	return s, nil
}

// readInt reads a file holding one number; "max" and a missing file are -1.
func readInt(file string) int64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// readKeyed reads a "KEY VALUE" per line file (cpu.stat, memory.events).
func readKeyed(file string) (map[string]int64, error) {
	m := map[string]int64{}
	data, err := os.ReadFile(file)
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); ok && err == nil {
			m[k] = n
		}
	}
	return m, nil
}

// readIOStatV2 parses io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 …".
func readIOStatV2(file string) []IOStats {
	out := []IOStats{}
	f, err := os.Open(file)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		s := IOStats{Device: fs[0]}
		for _, kv := range fs[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "rbytes":
				s.ReadBytes = n
			case "wbytes":
				s.WriteBytes = n
			case "rios":
				s.ReadIOs = n
			case "wios":
				s.WriteIOs = n
			}
		}
		out = append(out, s)
	}
	return out
}

// readIOStatV1 parses blkio's "8:0 Read 4096" lines from the throttle's
// files and BFQ's, keeping the larger count of each.
func readIOStatV1(bytesFile, opsFile, bfqBytesFile, bfqOpsFile string) []IOStats {
	byDev := map[string]*IOStats{}
	read := func(file string, rd, wr func(*IOStats, int64)) {
		data, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(data), "\n") {
			fs := strings.Fields(line)
			if len(fs) != 3 {
				continue
			}
			n, _ := strconv.ParseInt(fs[2], 10, 64)
			s := byDev[fs[0]]
			if s == nil {
				s = &IOStats{Device: fs[0]}
				byDev[fs[0]] = s
			}
			switch fs[1] {
			case "Read":
				rd(s, n)
			case "Write":
				wr(s, n)
			}
		}
	}
	for _, f := range []string{bytesFile, bfqBytesFile} {
		read(f, func(s *IOStats, n int64) { s.ReadBytes = max(s.ReadBytes, n) }, func(s *IOStats, n int64) { s.WriteBytes = max(s.WriteBytes, n) })
	}
	for _, f := range []string{opsFile, bfqOpsFile} {
		read(f, func(s *IOStats, n int64) { s.ReadIOs = max(s.ReadIOs, n) }, func(s *IOStats, n int64) { s.WriteIOs = max(s.WriteIOs, n) })
	}
	out := []IOStats{}
	for _, s := range byDev {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Device < out[j].Device })
	return out
}

// Format prints stats for people, one "key value" line per counter.
func (s *Stats) Format() string {
	var b strings.Builder
	lim := func(n int64) string {
		if n < 0 {
			return "max"
		}
		return FormatSize(n)
	}
	fmt.Fprintf(&b, "cgroup      %s\n", s.Path)
	fmt.Fprintf(&b, "frozen      %v\n", s.Frozen)
	fmt.Fprintf(&b, "cpu         %.3fs used, throttled %d of %d periods (%.3fs)\n", float64(s.CPU.UsageUsec)/1e6, s.CPU.Throttled, s.CPU.Periods, float64(s.CPU.ThrottledUsec)/1e6)
	peak := "?"
	if s.Memory.Peak >= 0 {
		peak = FormatSize(s.Memory.Peak)
	}
	fmt.Fprintf(&b, "memory      %s now, %s peak, limit %s, %d OOM kills\n", FormatSize(s.Memory.Current), peak, lim(s.Memory.Limit), s.Memory.OOMKills)
	pl := "max"
	if s.Pids.Limit >= 0 {
		pl = strconv.FormatInt(s.Pids.Limit, 10)
	}
	fmt.Fprintf(&b, "pids        %d, limit %s\n", s.Pids.Current, pl)
	for _, d := range s.IO {
		fmt.Fprintf(&b, "io %-8s read %s (%d ops), written %s (%d ops)\n", d.Device, FormatSize(d.ReadBytes), d.ReadIOs, FormatSize(d.WriteBytes), d.WriteIOs)
	}
	if len(s.Devices) > 0 {
		fmt.Fprintf(&b, "devices     %s\n", strings.Join(s.Devices, ", "))
	}
	return b.String()
}
