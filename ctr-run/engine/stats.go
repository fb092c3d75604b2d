package engine

import (
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// cgStats is what `cg-limit stats --format json` prints (the fields used).
type cgStats struct {
	CPU struct {
		UsageUsec     int64 `json:"usage_usec"`
		Periods       int64 `json:"nr_periods"`
		Throttled     int64 `json:"nr_throttled"`
		ThrottledUsec int64 `json:"throttled_usec"`
	} `json:"cpu"`
	Memory struct{ Current, Peak, Limit int64 } `json:"memory"`
	Pids   struct{ Current, Limit int64 }       `json:"pids"`
}

// systemCPU is the host's CPU time in nanoseconds, from /proc/stat's cpu
// line (in USER_HZ ticks, 100 a second): docker's system_cpu_usage, the
// denominator of the CPU % docker stats shows.
func systemCPU() int64 {
	data, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(data), "\n")
	var ticks int64
	for _, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		ticks += n
	}
	return ticks * (1e9 / 100)
}

func hostMemory() int64 {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// containerStats is GET /containers/ID/stats: cg-limit stats, in docker's
// shape, once (stream=false) or every second until the client goes.
func (s *Server) containerStats(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	stream := r.URL.Query().Get("stream") != "0" && r.URL.Query().Get("stream") != "false"
	sample := func() map[string]any {
		var st cgStats
		if out, err := s.run("cg-limit", "stats", "--format", "json", c.ID); err == nil {
			json.Unmarshal(out, &st)
		}
		// docker's fields are unsigned: "unlimited" is 0 for pids, the
		// host's memory for memory (cg-limit says -1).
		limit := st.Memory.Limit
		pids := max(st.Pids.Limit, 0)
		if limit <= 0 {
			limit = hostMemory()
		}
		return map[string]any{
			"read": time.Now().UTC().Format(time.RFC3339Nano), "id": c.ID, "name": "/" + c.Name,
			"pids_stats": map[string]int64{"current": st.Pids.Current, "limit": pids},
			"cpu_stats": map[string]any{
				"cpu_usage":        map[string]any{"total_usage": st.CPU.UsageUsec * 1000, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
				"system_cpu_usage": systemCPU(), "online_cpus": runtime.NumCPU(),
				"throttling_data": map[string]int64{"periods": st.CPU.Periods, "throttled_periods": st.CPU.Throttled, "throttled_time": st.CPU.ThrottledUsec * 1000},
			},
			"memory_stats": map[string]any{"usage": st.Memory.Current, "max_usage": st.Memory.Peak, "limit": limit, "stats": map[string]int64{}},
			"blkio_stats":  map[string]any{}, "networks": map[string]any{},
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(flushWriter{w})
	prev := sample()
	for wait := 500 * time.Millisecond; ; wait = time.Second {
		select {
		case <-r.Context().Done():
			return nil
		case <-time.After(wait):
		}
		cur := sample()
		cur["precpu_stats"], cur["preread"] = prev["cpu_stats"], prev["read"]
		if err := enc.Encode(cur); err != nil || !stream || c.PID() == 0 {
			return nil
		}
		prev = cur
	}
}
