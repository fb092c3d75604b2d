package cgroup

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// The privileged tests below make a throwaway cgroup, /ctrkit-test-ID, in
// this host's real hierarchies, put a sleep into it, and read back what the
// kernel holds. They need root; run them under the suite lock.

func rootHost(t *testing.T) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes cgroups")
	}
	h, err := Detect()
	if err != nil {
		t.Skipf("Detect() = %v", err)
	}
	return h
}

// testCgroup makes /ctrkit-test-ID with r on h, and removes it (killing
// what is left in it) when the test ends.
func testCgroup(t *testing.T, h *Host, r *specs.LinuxResources) (*Cgroup, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	name := "/ctrkit-test-" + spec.NewID()[:12]
	cg, err := h.Create(explain.New("test", &log, true), name, r)
	if err != nil {
		t.Fatalf("Create(%s) = %v", name, err)
	}
	t.Cleanup(func() {
		if err := cg.Kill(syscall.SIGKILL); err != nil {
			t.Errorf("cleanup Kill() = %v", err)
		}
		if err := cg.Remove(); err != nil {
			t.Errorf("cleanup Remove() = %v", err)
		}
	})
	return cg, &log
}

func readFile(t *testing.T, f string) string {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

// cgFile is FILE in cg's directory of the hierarchy serving ctrl.
func cgFile(t *testing.T, cg *Cgroup, ctrl, file string) string {
	t.Helper()
	d, _ := cg.dir(ctrl)
	if d == "" {
		t.Skipf("no %s hierarchy on this host", ctrl)
	}
	return readFile(t, filepath.Join(d, file))
}

// sleepIn starts, inside cg, a shell that takes some memory and CPU time
// and then becomes a long sleep; it returns once the sleep runs, and reaps
// it when the test ends.
func sleepIn(t *testing.T, cg *Cgroup) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", `x=$(head -c 4000000 /dev/zero | tr '\0' a); i=0; while [ $i -lt 3000 ]; do i=$((i+1)); done; exec sleep 60`)
	if err := cg.Start(cmd); err != nil {
		t.Fatalf("Start(sleep) = %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	comm := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/comm"
	for i := 0; ; i++ {
		if data, _ := os.ReadFile(comm); string(data) == "sleep\n" {
			return cmd
		}
		if i == 500 {
			t.Fatalf("the shell in %s did not exec sleep within 5 s", cg.Path())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestV1LimitsKernel(t *testing.T) {
	h := rootHost(t)
	if h.V1["memory"] == "" || h.V1["pids"] == "" || h.V1["cpu"] == "" {
		t.Skip("needs cgroup v1 memory, pids and cpu hierarchies")
	}
	mem, quota, period, shares, pids := int64(64<<20), int64(50000), uint64(100000), uint64(512), int64(20)
	cg, log := testCgroup(t, h, &specs.LinuxResources{
		Memory: &specs.LinuxMemory{Limit: &mem},
		CPU:    &specs.LinuxCPU{Quota: &quota, Period: &period, Shares: &shares, Mems: "0"},
		Pids:   &specs.LinuxPids{Limit: &pids},
	})
	for _, c := range []struct{ ctrl, file, want string }{
		{"memory", "memory.limit_in_bytes", "67108864"},
		{"cpu", "cpu.cfs_quota_us", "50000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"cpu", "cpu.shares", "512"},
		{"pids", "pids.max", "20"},
		{"cpuset", "cpuset.mems", "0"},
		// cpuset.cpus starts empty in a new v1 cpuset cgroup: inherited.
		{"cpuset", "cpuset.cpus", readFile(t, filepath.Join(h.V1["cpuset"], "cpuset.cpus"))},
	} {
		if got := cgFile(t, cg, c.ctrl, c.file); got != c.want {
			t.Errorf("%s = %q, want %q", c.file, got, c.want)
		}
	}
	if !strings.Contains(log.String(), "echo 67108864 > "+filepath.Join(h.V1["memory"], cg.Path(), "memory.limit_in_bytes")) {
		t.Errorf("explain log lacks the memory write:\n%s", log)
	}
	if _, err := h.Create(nil, cg.Name, nil); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("Create(%s) again = %v, want 'exists already'", cg.Name, err)
	}
	if got, err := h.Open(nil, cg.Name); err != nil || got.Path() != cg.Path() {
		t.Errorf("Open(%s) = %v, %v", cg.Name, got, err)
	}
	if _, err := h.Open(nil, cg.Name+"-gone"); err == nil || !strings.Contains(err.Error(), "no cgroup") {
		t.Errorf("Open(missing) = %v, want 'no cgroup'", err)
	}
	if _, err := h.Open(nil, "../etc"); err == nil {
		t.Errorf("Open(../etc) = nil error, want an invalid name")
	}

	// v1 wants memory ≤ memory+swap after every write: raising both
	// must write memsw first, lowering both memory first.
	if _, err := os.Stat(filepath.Join(h.V1["memory"], "memory.memsw.limit_in_bytes")); err == nil {
		for _, lim := range []struct{ mem, swap int64 }{{64 << 20, 64 << 20}, {128 << 20, 256 << 20}, {32 << 20, 48 << 20}} {
			if err := cg.Update(&specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &lim.mem, Swap: &lim.swap}}); err != nil {
				t.Fatalf("Update(memory %d, swap %d) = %v", lim.mem, lim.swap, err)
			}
			if got, got2 := cgFile(t, cg, "memory", "memory.limit_in_bytes"), cgFile(t, cg, "memory", "memory.memsw.limit_in_bytes"); got != itoa(lim.mem) || got2 != itoa(lim.swap) {
				t.Errorf("after Update(%d, %d): limit %s, memsw %s", lim.mem, lim.swap, got, got2)
			}
		}
	}
	// An impossible CPU set: the kernel refuses the write.
	if err := cg.Update(&specs.LinuxResources{CPU: &specs.LinuxCPU{Cpus: "1000"}}); err == nil || !strings.Contains(err.Error(), "--cpuset-cpus: write \"1000\"") {
		t.Errorf("Update(cpuset 1000) = %v, want the kernel's refusal", err)
	}

	cmd := sleepIn(t, cg)
	if ps, err := cg.Procs(); err != nil || len(ps) != 1 || ps[0] != cmd.Process.Pid {
		t.Fatalf("Procs() = %v, %v; want [%d]", ps, err, cmd.Process.Pid)
	}
	self, _ := os.ReadFile("/proc/" + itoa(int64(cmd.Process.Pid)) + "/cgroup")
	if !strings.Contains(string(self), ":memory:"+cg.Path()+"\n") {
		t.Errorf("/proc/PID/cgroup of the sleep lacks memory:%s:\n%s", cg.Path(), self)
	}
	st, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Pids.Current != 1 || st.Pids.Limit != 20 || st.Memory.Limit != 32<<20 || st.Memory.Peak < 4000000 || st.CPU.UsageUsec <= 0 || st.Frozen {
		t.Errorf("Stats() = %+v, want 1 of 20 pids, limit 32 MiB, a peak of at least the shell's 4 MB, some CPU time, not frozen", st)
	}
	if f := st.Format(); !strings.Contains(f, "pids        1, limit 20\n") || !strings.Contains(f, "limit 32M") {
		t.Errorf("Format():\n%s", f)
	}
	if err := cg.Remove(); err == nil || !strings.Contains(err.Error(), "still has processes") {
		t.Errorf("Remove() of a busy cgroup = %v, want 'still has processes'", err)
	}
	if err := cg.Add(1 << 22); err == nil || !strings.Contains(err.Error(), "no process") {
		t.Errorf("Add(no such pid) = %v, want 'no process'", err)
	}

	if h.V1["freezer"] != "" {
		if err := cg.Freeze(); err != nil {
			t.Fatalf("Freeze() = %v", err)
		}
		if f, err := cg.Frozen(); !f || err != nil || cgFile(t, cg, "freezer", "freezer.state") != "FROZEN" {
			t.Errorf("after Freeze: Frozen() = %v, %v", f, err)
		}
		if err := cg.Thaw(); err != nil {
			t.Fatalf("Thaw() = %v", err)
		}
		if f, _ := cg.Frozen(); f {
			t.Errorf("after Thaw: Frozen() = true")
		}
	}
	if err := cg.Kill(syscall.SIGTERM); err != nil {
		t.Fatalf("Kill(SIGTERM) = %v", err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("sleep after Kill(SIGTERM): %v, want 'signal: terminated'", err)
	}
	if err := cg.Remove(); err != nil {
		t.Fatalf("Remove() = %v", err)
	}
	if ds := cg.Dirs(); len(ds) != 0 {
		t.Errorf("Dirs() after Remove = %q", ds)
	}
	if err := cg.Update(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: num(5)}}); err == nil || !strings.Contains(err.Error(), "was made without") {
		t.Errorf("Update() of a removed cgroup = %v, want 'was made without'", err)
	}
	cg.Name = cg.Name + "-removed" // nothing left for the cleanup
}

// TestV2FreezeKillKernel uses the host's cgroup2 tree alone, as a v2
// host: cgroup.freeze, cgroup.events and cgroup.kill.
func TestV2FreezeKillKernel(t *testing.T) {
	real := rootHost(t)
	if real.Unified == "" {
		t.Skip("needs a cgroup2 mount")
	}
	h := &Host{Unified: real.Unified, V2: map[string]bool{}, V1: map[string]string{}}
	cg, log := testCgroup(t, h, nil)
	cmd := sleepIn(t, cg)
	if err := cg.Freeze(); err != nil {
		t.Fatalf("Freeze() = %v", err)
	}
	if f, err := cg.Frozen(); !f || err != nil || cgFile(t, cg, "freezer", "cgroup.freeze") != "1" {
		t.Errorf("after Freeze: Frozen() = %v, %v", f, err)
	}
	if err := cg.Thaw(); err != nil {
		t.Fatalf("Thaw() = %v", err)
	}
	// A signal other than SIGKILL: freeze, signal each process, thaw.
	if err := cg.Kill(syscall.SIGTERM); err != nil {
		t.Fatalf("Kill(SIGTERM) = %v", err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("sleep after Kill(SIGTERM): %v", err)
	}
	if f, _ := cg.Frozen(); f {
		t.Errorf("Kill(SIGTERM) left the cgroup frozen")
	}
	cmd = sleepIn(t, cg)
	if err := cg.Kill(syscall.SIGKILL); err != nil {
		t.Fatalf("Kill(SIGKILL) = %v", err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("sleep after Kill(SIGKILL): %v", err)
	}
	if ps, _ := cg.Procs(); len(ps) != 0 {
		t.Errorf("Procs() after SIGKILL = %v", ps)
	}
	if _, err := os.Stat(filepath.Join(real.Unified, cg.Path(), "cgroup.kill")); err == nil && !strings.Contains(log.String(), "cgroup.kill") {
		t.Errorf("SIGKILL did not go through cgroup.kill:\n%s", log)
	}
}

func TestNoFreezer(t *testing.T) {
	cg := &Cgroup{Name: "x", host: &Host{V1: map[string]string{"memory": t.TempDir()}}}
	if err := cg.Freeze(); err == nil || !strings.Contains(err.Error(), "no freezer") {
		t.Errorf("Freeze() without a freezer = %v", err)
	}
	if f, err := cg.Frozen(); f || err != nil {
		t.Errorf("Frozen() without a freezer = %v, %v", f, err)
	}
}

func TestCreateNone(t *testing.T) {
	h := &Host{V2: map[string]bool{}, V1: map[string]string{}}
	if _, err := h.Create(nil, "web", nil); err == nil || !strings.Contains(err.Error(), "no cgroup file system") {
		t.Errorf("Create() with nothing mounted = %v", err)
	}
	if _, err := h.Create(nil, "a/b", nil); err == nil || !strings.Contains(err.Error(), "invalid cgroup name") {
		t.Errorf("Create(a/b) = %v", err)
	}
	// A file where the cgroup directory goes: mkdir fails, nothing is left.
	m := t.TempDir()
	os.WriteFile(filepath.Join(m, "ctrkit"), nil, 0o644)
	h.V1["memory"] = m
	if _, err := h.Create(nil, "web", nil); err == nil || !strings.Contains(err.Error(), "create cgroup") {
		t.Errorf("Create() under a file = %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestCreateConcurrentKernel: cg-limit processes make and remove cgroups
// under /ctrkit at once (img-build's RUN steps, ctr-run -d ×N), each making
// /ctrkit where it lacks it and rm removing it once empty. None may fail
// because of what another did in between.
func TestCreateConcurrentKernel(t *testing.T) {
	h := rootHost(t)
	const workers, rounds = 6, 20
	prefix := "cktest-" + spec.NewID()[:6]
	errs := make(chan error, workers*rounds)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				cg, err := h.Create(nil, fmt.Sprintf("%s-%d-%d", prefix, w, r), nil)
				if err != nil {
					errs <- err
					continue
				}
				if err := cg.Remove(); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
