package cgroup

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/explain"
	"ctrkit/internal/kernel"
	"ctrkit/internal/spec"

	"github.com/cilium/ebpf/asm"
	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func num(n int64) *int64 { return &n }

func TestParseFormatRule(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"c 1:3 rwm", "c 1:3 rwm"},
		{"b 7:* r", "b 7:* r"},
		{"c *:* m", "c *:* m"},
		{"a", "a *:* rwm"},
		{"a *:* rwm", "a *:* rwm"},
		{"  c  136:*   rw ", "c 136:* rw"},
	} {
		d, err := ParseRule(tc.in)
		if err != nil {
			t.Errorf("ParseRule(%q) = %v, want %q", tc.in, err, tc.want)
			continue
		}
		if got := FormatRule(d); got != tc.want || !d.Allow {
			t.Errorf("FormatRule(ParseRule(%q)) = %q (allow %v), want %q (allow true)", tc.in, got, d.Allow, tc.want)
		}
	}
	for _, bad := range []string{"", "c", "c 1:3", "x 1:3 rwm", "c 1-3 rwm", "c 1:3 rwx", "c a:3 r", "a 1:3 rwm", "c 1:3 rwm extra"} {
		if d, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) = %+v, want an error", bad, d)
		}
	}
}

func TestV1Writes(t *testing.T) {
	got, err := V1Writes([]specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: num(1), Minor: num(3), Access: "rwm"},
		{Allow: true, Type: "c", Major: num(136), Access: "rwm"},
		{Allow: true, Type: "b", Access: "m"},
		{Allow: false, Type: "c", Major: num(10), Minor: num(229), Access: "rw"},
		{Allow: true, Access: "rwm"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range got {
		lines = append(lines, s.File+" "+s.Value)
	}
	want := []string{
		"devices.deny a", // always first: forget the inherited list
		"devices.deny a",
		"devices.allow c 1:3 rwm",
		"devices.allow c 136:* rwm",
		"devices.allow b *:* m",
		"devices.deny c 10:229 rw",
		"devices.allow a",
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("V1Writes() lines (-want +got):\n%s", diff)
	}
	if _, err := V1Writes([]specs.LinuxDeviceCgroup{{Allow: true, Type: "x"}}); err == nil {
		t.Errorf("V1Writes(type x) = nil error, want one")
	}
}

// run interprets a device program the way the kernel runs it, for one
// access: typ 'c' or 'b', acc letters of rwm. It knows the few
// instructions Program emits.
func run(t *testing.T, p asm.Instructions, typ byte, major, minor uint32, acc string) int64 {
	t.Helper()
	ctx := [3]uint32{uint32(accessBits(acc))<<16 | map[byte]uint32{'c': devcgChar, 'b': devcgBlock}[typ], major, minor}
	sym := map[string]int{}
	for i, ins := range p {
		if s := ins.Symbol(); s != "" {
			sym[s] = i
		}
	}
	var r [11]int64
	for pc, steps := 0, 0; pc < len(p) && steps < 10000; steps++ {
		ins := p[pc]
		op := ins.OpCode
		src := ins.Constant
		if op.Source() == asm.RegSource {
			src = r[ins.Src]
		}
		switch {
		case op.Class() == asm.LdXClass:
			r[ins.Dst] = int64(ctx[ins.Offset/4])
		case op.Class().IsALU():
			switch op.ALUOp() {
			case asm.Mov:
				r[ins.Dst] = int64(uint32(src))
			case asm.And:
				r[ins.Dst] = int64(uint32(r[ins.Dst]) & uint32(src))
			case asm.RSh:
				r[ins.Dst] = int64(uint32(r[ins.Dst]) >> uint32(src))
			default:
				t.Fatalf("instruction %d %v: unknown to the test", pc, ins)
			}
		case op.Class().IsJump() && op.JumpOp() == asm.Exit:
			return r[0]
		case op.Class().IsJump():
			to, ok := sym[ins.Reference()]
			if !ok {
				t.Fatalf("instruction %d %v jumps to %q, which no instruction is", pc, ins, ins.Reference())
			}
			jump := false
			switch op.JumpOp() {
			case asm.JNE:
				jump = r[ins.Dst] != src
			case asm.JEq:
				jump = r[ins.Dst] == src
			default:
				t.Fatalf("instruction %d %v: unknown to the test", pc, ins)
			}
			if jump {
				pc = to
				continue
			}
		default:
			t.Fatalf("instruction %d %v: unknown to the test", pc, ins)
		}
		pc++
	}
	t.Fatalf("the program runs off its end or loops")
	return -1
}

func TestProgramDockerDefaults(t *testing.T) {
	p, err := Program(spec.Default("/", nil).Linux.Resources.Devices)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		typ          byte
		major, minor uint32
		acc          string
		want         int64
	}{
		{'c', 1, 3, "rw", 1},    // /dev/null
		{'c', 1, 5, "r", 1},     // /dev/zero
		{'c', 1, 9, "rwm", 1},   // /dev/urandom
		{'c', 136, 4, "rw", 1},  // /dev/pts/4
		{'c', 5, 2, "rw", 1},    // /dev/ptmx
		{'c', 10, 200, "rw", 1}, // /dev/net/tun
		{'b', 7, 0, "r", 0},     // the host's /dev/loop0: the attack
		{'b', 7, 0, "m", 1},     // making the node is allowed, as in docker
		{'b', 8, 0, "rw", 0},    // the host's disk
		{'c', 10, 232, "rw", 0}, // /dev/kvm
		{'c', 10, 229, "rw", 0}, // /dev/fuse: docker denies it
		{'c', 10, 229, "m", 1},
		{'c', 1, 1, "r", 0}, // /dev/mem
	} {
		if got := run(t, p, tc.typ, tc.major, tc.minor, tc.acc); got != tc.want {
			t.Errorf("default program(%c %d:%d %s) = %d, want %d", tc.typ, tc.major, tc.minor, tc.acc, got, tc.want)
		}
	}
}

func TestProgramRules(t *testing.T) {
	zeroR := specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: num(1), Minor: num(5), Access: "r"}
	for _, tc := range []struct {
		name  string
		rules []specs.LinuxDeviceCgroup
		typ   byte
		maj   uint32
		min   uint32
		acc   string
		want  int64
	}{
		{"empty list denies", nil, 'c', 1, 3, "r", 0},
		{"privileged allows", AllowAll, 'b', 8, 0, "rw", 1},
		{"read-only rule allows read", []specs.LinuxDeviceCgroup{zeroR}, 'c', 1, 5, "r", 1},
		{"read-only rule refuses rw", []specs.LinuxDeviceCgroup{zeroR}, 'c', 1, 5, "rw", 0},
		{"other minor", []specs.LinuxDeviceCgroup{zeroR}, 'c', 1, 3, "r", 0},
		{"other type", []specs.LinuxDeviceCgroup{zeroR}, 'b', 1, 5, "r", 0},
		{"later deny wins", []specs.LinuxDeviceCgroup{AllowAll[0], {Type: "c", Major: num(1), Minor: num(5), Access: "rwm"}}, 'c', 1, 5, "r", 0},
		{"deny leaves the rest", []specs.LinuxDeviceCgroup{AllowAll[0], {Type: "c", Major: num(1), Minor: num(5), Access: "rwm"}}, 'c', 1, 3, "r", 1},
		{"deny w takes rw", []specs.LinuxDeviceCgroup{AllowAll[0], {Type: "c", Major: num(1), Minor: num(5), Access: "w"}}, 'c', 1, 5, "rw", 0},
		{"deny w leaves r", []specs.LinuxDeviceCgroup{AllowAll[0], {Type: "c", Major: num(1), Minor: num(5), Access: "w"}}, 'c', 1, 5, "r", 1},
		{"later allow-all wins", []specs.LinuxDeviceCgroup{{Access: "rwm"}, AllowAll[0]}, 'c', 1, 5, "r", 1},
	} {
		p, err := Program(tc.rules)
		if err != nil {
			t.Fatalf("%s: Program() = %v", tc.name, err)
		}
		if got := run(t, p, tc.typ, tc.maj, tc.min, tc.acc); got != tc.want {
			t.Errorf("%s: program(%c %d:%d %s) = %d, want %d", tc.name, tc.typ, tc.maj, tc.min, tc.acc, got, tc.want)
		}
	}
	if _, err := Program([]specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Access: "rwx"}}); err == nil {
		t.Errorf("Program(access rwx) = nil error, want one")
	}
}

func TestSettingsDevices(t *testing.T) {
	v1, v2 := hosts(t)
	v1.V1["devices"] = "/sys/fs/cgroup/devices"
	r := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: true, Type: "c", Major: num(1), Minor: num(3), Access: "rwm"}}}
	ss, err := v1.Settings(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 2 || ss[0].File != "devices.deny" || ss[1].File != "devices.allow" || ss[1].Value != "c 1:3 rwm" {
		t.Errorf("hybrid Settings(devices) = %+v, want devices.deny a, devices.allow c 1:3 rwm", ss)
	}
	ss, err = v2.Settings(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 1 || !ss[0].V2 || len(ss[0].Devices) != 1 {
		t.Errorf("v2 Settings(devices) = %+v, want one program setting", ss)
	}
	if m, isV2, ok := v2.Where("devices"); !ok || !isV2 || m != "/sys/fs/cgroup" {
		t.Errorf("v2 Where(devices) = %q, %v, %v, want the v2 root", m, isV2, ok)
	}
}

// TestDeviceProgramKernel loads and attaches a real device program to a
// cgroup in this host's cgroup2 tree and checks that the kernel obeys it.
// Privileged: needs root and a cgroup2 mount; run it under the suite lock.
func TestDeviceProgramKernel(t *testing.T) {
	h := unifiedHost(t)
	var log bytes.Buffer
	name := "ck-devtest-" + spec.NewID()
	cg, err := h.Create(explain.New("test", &log, true), name, &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: true, Type: "c", Major: num(1), Minor: num(3), Access: "rwm"}, // /dev/null only
	}})
	if err != nil {
		t.Fatalf("Create() = %v", err)
	}
	defer cg.Remove()
	if !strings.Contains(log.String(), "bpftool cgroup attach "+filepath.Join(h.Unified, "ctrkit", name)+" device id ") {
		t.Errorf("explain log lacks the bpftool line:\n%s", log.String())
	}
	out, err := startIn(cg, "cat /dev/null && echo null-ok; head -c1 /dev/zero")
	if err == nil || !strings.Contains(out, "null-ok") || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("in %s: /dev/null then /dev/zero: %v, %q; want null-ok, then EPERM", cg.Path(), err, out)
	}
	if got := cg.Devices(); len(got) != 1 || !strings.HasPrefix(got[0], "bpf program id ") {
		t.Errorf("Devices() = %q, want one attached program", got)
	}
}

// unifiedHost is this host's cgroup2 tree alone, for a privileged test
// that makes a cgroup there; it skips the test without root or cgroup2.
func unifiedHost(t *testing.T) *Host {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: makes a cgroup")
	}
	real, err := Detect()
	if err != nil || real.Unified == "" {
		t.Skip("needs a cgroup2 mount")
	}
	return &Host{Unified: real.Unified, V2: map[string]bool{}, V1: map[string]string{}}
}

func startIn(cg *Cgroup, script string) (string, error) {
	cmd := exec.Command("sh", "-c", script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cg.Start(cmd); err != nil {
		return "", err
	}
	err := cmd.Wait()
	return out.String(), err
}

// TestStartIntoV2Kernel starts a command in a cgroup of this host's
// cgroup2 tree both ways: clone3 with CLONE_INTO_CGROUP, and, as on a
// kernel older than 5.7, the gate moving itself in (echo 0 > cgroup.procs).
// Privileged: needs root and a cgroup2 mount.
func TestStartIntoV2Kernel(t *testing.T) {
	h := unifiedHost(t)
	if !kernel.CloneIntoCgroup() {
		t.Skip("this kernel has no CLONE_INTO_CGROUP")
	}
	defer func(f func() bool) { kernel.CloneIntoCgroup = f }(kernel.CloneIntoCgroup)
	for _, clone3 := range []bool{true, false} {
		kernel.CloneIntoCgroup = func() bool { return clone3 }
		var log bytes.Buffer
		name := "ck-starttest-" + spec.NewID()
		cg, err := h.Create(explain.New("test", &log, true), name, &specs.LinuxResources{})
		if err != nil {
			t.Fatalf("Create() = %v", err)
		}
		out, err := startIn(cg, "cat /proc/self/cgroup")
		cg.Remove()
		if want := "0::/ctrkit/" + name + "\n"; err != nil || !strings.Contains(out, want) {
			t.Errorf("clone3 %v: /proc/self/cgroup = %q, %v; want the line %q", clone3, out, err, want)
		}
		want := map[bool]string{true: "clone3(CLONE_INTO_CGROUP", false: `write("cgroup.procs", "0")`}[clone3]
		if !strings.Contains(log.String(), want) {
			t.Errorf("clone3 %v: the explain log lacks %s:\n%s", clone3, want, log.String())
		}
	}
}
