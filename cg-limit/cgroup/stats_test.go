package cgroup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func write(t *testing.T, file, data string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestList(t *testing.T) {
	mem, cpu := t.TempDir(), t.TempDir()
	for _, d := range []string{mem + "/ctrkit/web", mem + "/ctrkit/db", cpu + "/ctrkit/web", cpu + "/ctrkit/batch", mem + "/other/x"} {
		os.MkdirAll(d, 0o755)
	}
	write(t, mem+"/ctrkit/cgroup.procs", "")
	h := &Host{V1: map[string]string{"memory": mem, "cpu": cpu}}
	if got, want := h.List(), []string{"batch", "db", "web"}; !cmp.Equal(got, want) {
		t.Errorf("List() = %q, want %q", got, want)
	}
	if got := (&Host{}).List(); len(got) != 0 {
		t.Errorf("List() with nothing mounted = %q", got)
	}
}

func TestCheckName(t *testing.T) {
	for _, ok := range []string{"web", "ck-1", "a.b_c", "/ctrkit/web", "/default/ck-1"} {
		if err := CheckName(ok); err != nil {
			t.Errorf("CheckName(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a/b", "..", ".hidden", "/", "/a//b", "/a/../b", strings.Repeat("x", 65), "/" + strings.Repeat("x", 65)} {
		if err := CheckName(bad); err == nil {
			t.Errorf("CheckName(%q) = nil, want an error", bad)
		}
	}
	if got := Path("web"); got != "/ctrkit/web" {
		t.Errorf("Path(web) = %q", got)
	}
	if got := Path("/docker/abc"); got != "/docker/abc" {
		t.Errorf("Path(/docker/abc) = %q", got)
	}
}

func TestReadKeyedInt(t *testing.T) {
	d := t.TempDir()
	f := write(t, d+"/cpu.stat", "usage_usec 1200\nnr_periods 7\nbogus\nname x\n")
	got, err := readKeyed(f)
	if want := map[string]int64{"usage_usec": 1200, "nr_periods": 7}; err != nil || !cmp.Equal(got, want) {
		t.Errorf("readKeyed() = %v, %v; want %v", got, err, want)
	}
	if _, err := readKeyed(d + "/missing"); err == nil {
		t.Errorf("readKeyed(missing) = nil error")
	}
	for content, want := range map[string]int64{"42\n": 42, "max\n": -1, "": -1} {
		if got := readInt(write(t, d+"/n", content)); got != want {
			t.Errorf("readInt(%q) = %d, want %d", content, got, want)
		}
	}
	if got := readInt(d + "/missing"); got != -1 {
		t.Errorf("readInt(missing) = %d, want -1", got)
	}
}

func TestReadIOStat(t *testing.T) {
	d := t.TempDir()
	v2 := write(t, d+"/io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n253:1 rbytes=1\nshort\n")
	want := []IOStats{{"8:0", 4096, 8192, 1, 2}, {"253:1", 1, 0, 0, 0}}
	if got := readIOStatV2(v2); !cmp.Equal(got, want) {
		t.Errorf("readIOStatV2() = %+v, want %+v", got, want)
	}
	if got := readIOStatV2(d + "/missing"); got == nil || len(got) != 0 {
		t.Errorf("readIOStatV2(missing) = %#v, want empty, not nil (JSON [])", got)
	}
	b := write(t, d+"/bytes", "8:16 Read 100\n8:16 Write 200\n8:0 Read 5\n8:0 Sync 5\nTotal 305\n")
	o := write(t, d+"/ops", "8:16 Read 1\n8:16 Write 2\n")
	want = []IOStats{{"8:0", 5, 0, 0, 0}, {"8:16", 100, 200, 1, 2}}
	if got := readIOStatV1(b, o, d+"/missing", d+"/missing"); !cmp.Equal(got, want) {
		t.Errorf("readIOStatV1() = %+v, want %+v", got, want)
	}
	// Under BFQ the throttle's counters stay 0: the larger count wins.
	bb := write(t, d+"/bfq.bytes", "8:16 Read 700\n8:16 Write 50\n")
	bo := write(t, d+"/bfq.ops", "8:16 Read 7\n")
	want = []IOStats{{"8:0", 5, 0, 0, 0}, {"8:16", 700, 200, 7, 2}}
	if got := readIOStatV1(b, o, bb, bo); !cmp.Equal(got, want) {
		t.Errorf("readIOStatV1() with BFQ's files = %+v, want %+v", got, want)
	}
}

func TestStatsFormat(t *testing.T) {
	s := &Stats{Path: "/ctrkit/web", CPU: CPUStats{UsageUsec: 1500000, Periods: 10, Throttled: 3, ThrottledUsec: 250000},
		Memory: MemoryStats{Current: 1 << 20, Peak: -1, Limit: -1, OOMKills: 2}, Pids: PidsStats{Current: 3, Limit: -1},
		IO: []IOStats{{"8:0", 4096, 0, 1, 0}}, Devices: []string{"c 1:3 rwm"}}
	got := s.Format()
	for _, want := range []string{
		"cgroup      /ctrkit/web\n",
		"cpu         1.500s used, throttled 3 of 10 periods (0.250s)\n",
		"memory      1M now, ? peak, limit max, 2 OOM kills\n",
		"pids        3, limit max\n",
		"io 8:0      read 4K (1 ops), written 0 (0 ops)\n",
		"devices     c 1:3 rwm\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Format() lacks %q:\n%s", want, got)
		}
	}
}

func TestHint(t *testing.T) {
	for _, c := range []struct {
		s    Setting
		err  error
		want string
	}{
		{Setting{File: "memory.memsw.limit_in_bytes"}, os.ErrNotExist, "swapaccount=1"},
		{Setting{File: "memory.swap.max"}, os.ErrNotExist, "CONFIG_MEMCG_SWAP"},
		{Setting{File: "io.weight", Controller: "io"}, os.ErrNotExist, "bfq"},
		{Setting{File: "pids.max"}, os.ErrNotExist, "no such file"},
		{Setting{Controller: "memory"}, unix.EBUSY, "already uses more memory"},
		{Setting{Controller: "cpuset", File: "cpuset.cpus"}, unix.EINVAL, "parent's cpuset.cpus"},
		{Setting{Controller: "cpu"}, unix.EINVAL, "parent's"},
		{Setting{}, unix.EACCES, "needs root"},
		{Setting{}, unix.EIO, ""},
	} {
		if got := hint(c.s, c.err); (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("hint(%+v, %v) = %q, want %q in it", c.s, c.err, got, c.want)
		}
	}
}
