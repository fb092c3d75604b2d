package hugeheap

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// heapMapping is the AnonHugePages and the VmFlags of the mapping that
// holds addr, from /proc/self/smaps.
func heapMapping(addr uintptr) (hugeKB int, flags []string, err error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	in, found := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if lo, hi, ok := strings.Cut(fields[0], "-"); ok && !strings.HasSuffix(fields[0], ":") {
			start, err1 := strconv.ParseUint(lo, 16, 64)
			end, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 == nil && err2 == nil {
				in = uint64(addr) >= start && uint64(addr) < end
				found = found || in
				continue
			}
		}
		switch {
		case in && fields[0] == "AnonHugePages:":
			if hugeKB, err = strconv.Atoi(fields[1]); err != nil {
				return 0, nil, err
			}
		case in && fields[0] == "VmFlags:":
			flags = fields[1:]
		}
	}
	if err := sc.Err(); err != nil {
		return 0, nil, err
	}
	if !found {
		return 0, nil, fmt.Errorf("no mapping holds %#x", addr)
	}
	return hugeKB, flags, nil
}

// The test binary links this package, so its init ran: the heap it
// marked (VmFlags hg, MADV_HUGEPAGE) grows on huge pages. Whether the
// kernel has a free huge page at that moment is its own affair (memory
// can be too fragmented for one): a start that got none is tried again in
// a new process, up to three times.
func TestHeapOnHugePages(t *testing.T) {
	if os.Getenv("HUGEHEAP_CHILD") != "" {
		t.Skip("run by TestDisableTHP")
	}
	if disabled() {
		t.Skipf("huge pages are off here (%s or GODEBUG=disablethp=1)", thpSetting)
	}
	if marked == 0 {
		t.Fatal("init did not mark the heap")
	}
	// Grow the heap past the 2 MB it was in at init: what comes after the
	// mark is faulted in whole huge pages.
	var grow [][]byte
	for range 96 {
		b := make([]byte, 64<<10)
		for i := range b {
			b[i] = 1
		}
		grow = append(grow, b)
	}
	kb, flags, err := heapMapping(marked)
	runtime.KeepAlive(grow)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(flags, "hg") {
		t.Fatalf("the heap at %#x is not marked MADV_HUGEPAGE (VmFlags %v)", marked, flags)
	}
	if kb >= hugePage>>10 {
		return
	}
	if os.Getenv("HUGEHEAP_AGAIN") != "" {
		t.Fatalf("AnonHugePages of the heap at %#x = %d kB, want at least %d", marked, kb, hugePage>>10)
	}
	for try := 1; try <= 3; try++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHeapOnHugePages$", "-test.v")
		cmd.Env = append(os.Environ(), "HUGEHEAP_AGAIN=1")
		out, err := cmd.CombinedOutput()
		if err == nil && strings.Contains(string(out), "--- PASS: TestHeapOnHugePages") {
			t.Logf("no huge page at this start (%d kB); start %d of a new process got one", kb, try)
			return
		}
		t.Logf("start %d of a new process: %v\n%s", try, err, out)
	}
	t.Errorf("AnonHugePages of the heap at %#x = %d kB, and in three new processes too: want at least %d", marked, kb, hugePage>>10)
}

// GODEBUG=disablethp=1, the runtime's switch, turns it off.
func TestDisableTHP(t *testing.T) {
	if os.Getenv("HUGEHEAP_CHILD") != "" {
		if marked != 0 {
			t.Fatalf("init marked the heap at %#x with GODEBUG=%s", marked, os.Getenv("GODEBUG"))
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDisableTHP$", "-test.v")
	cmd.Env = append(os.Environ(), "HUGEHEAP_CHILD=1", "GODEBUG=madvdontneed=1,disablethp=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: TestDisableTHP") {
		t.Fatalf("%v did not run the check:\n%s", cmd, out)
	}
}

func TestSetting(t *testing.T) {
	for _, c := range []struct{ list, want string }{
		{"", ""},
		{"disablethp=1", "1"},
		{"madvdontneed=1,disablethp=1", "1"},
		{"disablethp=1,disablethp=0", "0"},
		{"disablethpx=1", ""},
		{"xdisablethp=1,gctrace=1", ""},
		{"disablethp", ""},
	} {
		if got := setting(c.list, "disablethp"); got != c.want {
			t.Errorf("setting(%q, disablethp) = %q, want %q", c.list, got, c.want)
		}
	}
}
