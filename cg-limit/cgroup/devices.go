package cgroup

// The device allowlist: which device nodes a cgroup's processes may open.
//
// The attack. A container's root keeps CAP_MKNOD (docker keeps it too, so
// that images can ship device nodes), and a device node is only a name for
// a (type, major, minor) number: `mknod /dev/x b 7 0` inside the container
// makes a node for the host's /dev/loop0, and `head /dev/x` then reads
// whatever file the host attached to it; `b 8 0` is the host's first disk,
// `c 10 232` its /dev/kvm. Namespaces do not stop this: there is no device
// namespace. File permissions do not stop it: the container's root made the
// node. What stops it is the devices cgroup, which the kernel consults on
// every open(2) and mknod(2) of a device node (and only of device nodes):
// the cgroup carries a list of (type, major, minor, access) rules, and an
// open that no rule allows fails with EPERM, "Operation not permitted".
//
// An OCI spec says it in linux.resources.devices, a list of rules
//
//	{"allow": false, "access": "rwm"}                          deny everything
//	{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
//	{"allow": true, "type": "c", "major": 136, "access": "rwm"}  minor omitted: any
//
// applied in order, the later ones winning: a list starts from "deny
// everything" (as runc does), so it is an allowlist with exceptions.
// type "a" (or none) is every device, c a character and b a block device;
// access r is read, w write, m mknod.
//
// Cgroup v1 has a "devices" controller with three files: writing a rule,
// "TYPE MAJOR:MINOR ACCESS" with * for any number, into devices.allow adds
// it, into devices.deny takes it away, and devices.list shows the result.
// ctrkit writes "a" into devices.deny first (deny all, forget the parent's
// list) and then each rule, in order:
//
//	echo a > /sys/fs/cgroup/devices/ctrkit/web/devices.deny
//	echo 'c 1:3 rwm' > /sys/fs/cgroup/devices/ctrkit/web/devices.allow
//	cat /sys/fs/cgroup/devices/ctrkit/web/devices.list
//
// (The kernel merges v1 rules its own way: a deny removes an exception that
// matches it exactly, it does not punch a hole into a wildcard one. runc
// emulates this to compute the writes; ctrkit writes the spec's rules as
// they are, which gives the same result for lists like docker's.)
//
// Cgroup v2 has no devices controller and no files for it. Since Linux 4.15
// the check is a small eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE,
// attached to the cgroup's directory: the kernel runs it on every open and
// mknod of a device node by a process of the cgroup (or of a cgroup below
// it), with the device's type, major, minor and the access asked for, and
// the program answers 1 (allow) or 0 (EPERM). ctrkit compiles the spec's
// rules into such a program (Program below: the rules are tested from the
// last to the first, the first that matches decides, and when none does the
// answer is 0), loads it with bpf(BPF_PROG_LOAD) and attaches it with
// bpf(BPF_PROG_ATTACH, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI). There is no
// file to echo into; the shell equivalent is bpftool, with the program
// already loaded:
//
//	bpftool cgroup attach /sys/fs/cgroup/ctrkit/web device id 42 multi
//	bpftool cgroup show /sys/fs/cgroup/ctrkit/web        # lists it
//	bpftool prog dump xlated id 42                        # shows its code
//
// An attachment made with BPF_PROG_ATTACH belongs to the cgroup, not to the
// process that made it: it stays when cg-limit exits and goes when the
// cgroup is removed. (A bpf_link, the newer way to attach, would be
// detached when cg-limit's descriptor closed.) With BPF_F_ALLOW_MULTI
// every program on the cgroup and on its ancestors must allow an access,
// so a container cannot lift its parent's restrictions.
//
// Library: the program is built and loaded with github.com/cilium/ebpf
// (its asm package writes the instructions, ebpf.NewProgram loads them,
// link.RawAttachProgram attaches). runc's own code for this,
// github.com/opencontainers/cgroups, keeps its device filter unexported in
// v0.1.0: the only way in is its whole cgroup manager, which brings
// systemd's D-Bus client, logrus and its own idea of cgroup paths along.
// The program is forty instructions and the lesson of this file, so it is
// written here, the way runc's devicefilter.go writes it.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"ctrkit/internal/explain"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/link"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// AllowAll is the device list of a privileged container: every device, any
// access (docker run --privileged).
var AllowAll = []specs.LinuxDeviceCgroup{{Allow: true, Type: "a", Access: "rwm"}}

// CheckRule refuses a rule the kernel would not understand.
func CheckRule(d specs.LinuxDeviceCgroup) error {
	switch d.Type {
	case "", "a", "c", "b":
	default:
		return fmt.Errorf("device rule type %q: want a (all), c (character) or b (block)", d.Type)
	}
	for _, r := range d.Access {
		if !strings.ContainsRune("rwm", r) {
			return fmt.Errorf("device rule access %q: want letters of rwm (read, write, mknod)", d.Access)
		}
	}
	for _, n := range []*int64{d.Major, d.Minor} {
		if n != nil && (*n < 0 || *n > math.MaxUint32) {
			return fmt.Errorf("device rule number %d: want 0 to %d, or none for any", *n, uint32(math.MaxUint32))
		}
	}
	return nil
}

// access is the rule's access, rwm when empty.
func access(d specs.LinuxDeviceCgroup) string {
	if d.Access == "" {
		return "rwm"
	}
	return d.Access
}

// FormatRule writes a rule the way devices.allow, devices.list and docker's
// --device-cgroup-rule do: "c 1:3 rwm", "c 136:* rwm", "a *:* rwm".
func FormatRule(d specs.LinuxDeviceCgroup) string {
	num := func(n *int64) string {
		if n == nil || *n < 0 {
			return "*"
		}
		return strconv.FormatInt(*n, 10)
	}
	t := d.Type
	if t == "" {
		t = "a"
	}
	return fmt.Sprintf("%s %s:%s %s", t, num(d.Major), num(d.Minor), access(d))
}

// ParseRule reads a rule in docker's --device-cgroup-rule form, "c 1:3 rwm",
// "b 7:* r", "a" or "a *:* rwm", as an allow rule.
func ParseRule(s string) (specs.LinuxDeviceCgroup, error) {
	d := specs.LinuxDeviceCgroup{Allow: true}
	f := strings.Fields(s)
	bad := func() (specs.LinuxDeviceCgroup, error) {
		return d, fmt.Errorf("device rule %q: want \"TYPE MAJOR:MINOR ACCESS\", e.g. \"c 1:3 rwm\" or \"b 7:* r\" (* for any number)", s)
	}
	if len(f) == 1 && f[0] == "a" {
		d.Type, d.Access = "a", "rwm"
		return d, nil
	}
	if len(f) != 3 {
		return bad()
	}
	d.Type, d.Access = f[0], f[2]
	maj, min, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad()
	}
	for _, p := range []struct {
		s  string
		to **int64
	}{{maj, &d.Major}, {min, &d.Minor}} {
		if p.s == "*" {
			continue
		}
		n, err := strconv.ParseInt(p.s, 10, 64)
		if err != nil {
			return bad()
		}
		*p.to = &n
	}
	if d.Type == "a" && (d.Major != nil || d.Minor != nil) {
		return d, fmt.Errorf("device rule %q: type a (all devices) takes no numbers: write \"a *:* rwm\"", s)
	}
	if err := CheckRule(d); err != nil {
		return d, err
	}
	return d, nil
}

// devicesFlag names the device rules in errors.
const devicesFlag = "linux.resources.devices"

// V1Writes turns a device list into the cgroup v1 writes that enforce it:
// "a" into devices.deny (deny all, forget the inherited list), then each
// rule into devices.allow or devices.deny.
func V1Writes(ds []specs.LinuxDeviceCgroup) ([]Setting, error) {
	out := []Setting{{Flag: devicesFlag, Controller: "devices", File: "devices.deny", Value: "a"}}
	for _, d := range ds {
		if err := CheckRule(d); err != nil {
			return nil, err
		}
		file := "devices.deny"
		if d.Allow {
			file = "devices.allow"
		}
		v := FormatRule(d)
		if v == "a *:* rwm" {
			v = "a" // the kernel takes "a" alone for all devices
		}
		out = append(out, Setting{Flag: devicesFlag, Controller: "devices", File: file, Value: v})
	}
	return out, nil
}

// The context a BPF_PROG_TYPE_CGROUP_DEVICE program gets (struct
// bpf_cgroup_dev_ctx, include/uapi/linux/bpf.h): access_type is
// ACCESS<<16 | TYPE, then major, then minor, each 32 bits.
const (
	devcgBlock = 1 // BPF_DEVCG_DEV_BLOCK
	devcgChar  = 2 // BPF_DEVCG_DEV_CHAR
	accMknod   = 1 // BPF_DEVCG_ACC_MKNOD
	accRead    = 2 // BPF_DEVCG_ACC_READ
	accWrite   = 4 // BPF_DEVCG_ACC_WRITE
)

func accessBits(a string) int32 {
	var b int32
	for _, r := range a {
		b |= map[rune]int32{'m': accMknod, 'r': accRead, 'w': accWrite}[r]
	}
	return b
}

// Program compiles a device list into the instructions of a cgroup device
// program. Registers on entry: R1 points at the context. The program loads
// the type into R2, the access asked for into R3, major and minor into R4
// and R5, then tests the rules from the last to the first; each rule is a
// block that jumps to the next block on any mismatch and otherwise returns
// 1 (allow) or 0 (deny). After the last block it returns 0: what no rule
// allows is denied.
//
// An allow rule matches when it grants every access asked for (opening
// read-write needs a rule with rw); a deny rule matches when it takes away
// any of them.
func Program(ds []specs.LinuxDeviceCgroup) (asm.Instructions, error) {
	for _, d := range ds {
		if err := CheckRule(d); err != nil {
			return nil, err
		}
	}
	// Rules before the last one that matches every access to every device
	// can never decide, and the kernel's verifier refuses code that cannot
	// be reached: begin there, and with such a rule no final "deny".
	first, catchAll := 0, false
	for i, d := range ds {
		if (d.Type == "" || d.Type == "a") && d.Major == nil && d.Minor == nil && accessBits(access(d)) == accMknod|accRead|accWrite {
			first, catchAll = i, true
		}
	}
	p := asm.Instructions{
		asm.LoadMem(asm.R2, asm.R1, 0, asm.Word),
		asm.And.Imm32(asm.R2, 0xffff),
		asm.LoadMem(asm.R3, asm.R1, 0, asm.Word),
		asm.RSh.Imm32(asm.R3, 16),
		asm.LoadMem(asm.R4, asm.R1, 4, asm.Word),
		asm.LoadMem(asm.R5, asm.R1, 8, asm.Word),
	}
	for i := len(ds) - 1; i >= first; i-- {
		d := ds[i]
		next := fmt.Sprintf("rule%d", i-1)
		if i == first {
			next = "deny"
		}
		var block asm.Instructions
		switch d.Type {
		case "c":
			block = append(block, asm.JNE.Imm(asm.R2, devcgChar, next))
		case "b":
			block = append(block, asm.JNE.Imm(asm.R2, devcgBlock, next))
		}
		if acc := accessBits(access(d)); acc != accMknod|accRead|accWrite {
			if d.Allow { // allow: nothing asked beyond the rule's access
				block = append(block,
					asm.Mov.Reg32(asm.R1, asm.R3),
					asm.And.Imm32(asm.R1, ^acc&7),
					asm.JNE.Imm(asm.R1, 0, next))
			} else { // deny: something asked that the rule takes away
				block = append(block,
					asm.Mov.Reg32(asm.R1, asm.R3),
					asm.And.Imm32(asm.R1, acc),
					asm.JEq.Imm(asm.R1, 0, next))
			}
		}
		if d.Major != nil {
			block = append(block, asm.JNE.Imm(asm.R4, int32(uint32(*d.Major)), next))
		}
		if d.Minor != nil {
			block = append(block, asm.JNE.Imm(asm.R5, int32(uint32(*d.Minor)), next))
		}
		verdict := int32(0)
		if d.Allow {
			verdict = 1
		}
		block = append(block, asm.Mov.Imm32(asm.R0, verdict), asm.Return())
		block[0] = block[0].WithSymbol(fmt.Sprintf("rule%d", i))
		p = append(p, block...)
	}
	if catchAll {
		return p, nil
	}
	return append(p, asm.Mov.Imm32(asm.R0, 0).WithSymbol("deny"), asm.Return()), nil
}

// attachDevices loads the program for ds and attaches it to the cgroup
// v2 directory dir; see the notes at the top of this file.
func (c *Cgroup) attachDevices(dir string, ds []specs.LinuxDeviceCgroup) error {
	insns, err := Program(ds)
	if err != nil {
		return err
	}
	c.log.Note("the device rules %s become a BPF_PROG_TYPE_CGROUP_DEVICE program of %d instructions (cgroup v2 has no devices files)", rulesText(ds), len(insns))
	c.log.Step("bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE, …)", "# no shell equivalent: cg-limit assembles the program; bpftool prog dump xlated shows it once loaded")
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Name: "ctrkit_devices", Type: ebpf.CGroupDevice, License: "Apache-2.0", Instructions: insns,
	})
	if err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("load the device program: %w (needs root, CAP_BPF and CAP_SYS_ADMIN)", err)
		}
		return fmt.Errorf("load the device program: %w (the kernel needs CONFIG_CGROUP_BPF, Linux 4.15)", err)
	}
	defer prog.Close()
	id := "ID"
	if info, err := prog.Info(); err == nil {
		if n, ok := info.ID(); ok {
			id = strconv.FormatUint(uint64(n), 10)
		}
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer f.Close()
	c.log.Step(fmt.Sprintf("bpf(BPF_PROG_ATTACH, open(%q), BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)", dir),
		fmt.Sprintf("bpftool cgroup attach %s device id %s multi", explain.Quote(dir), id))
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: int(f.Fd()), Program: prog, Attach: ebpf.AttachCGroupDevice, Flags: unix.BPF_F_ALLOW_MULTI,
	}); err != nil {
		return fmt.Errorf("attach the device program to %s: %w", dir, err)
	}
	return nil
}

// rulesText is a device list as one line: "deny a *:* rwm, allow c 1:3 rwm".
func rulesText(ds []specs.LinuxDeviceCgroup) string {
	var s []string
	for _, d := range ds {
		s = append(s, map[bool]string{true: "allow ", false: "deny "}[d.Allow]+FormatRule(d))
	}
	return strings.Join(s, ", ")
}

// Devices describes the cgroup's device rules: devices.list on v1, the
// attached device programs on v2 (their code is not readable back as
// rules). Nil when the cgroup has neither.
func (c *Cgroup) Devices() []string {
	d, v2 := c.dir("devices")
	if d == "" {
		return nil
	}
	if !v2 {
		data, err := os.ReadFile(d + "/devices.list")
		if err != nil {
			return nil
		}
		return strings.Split(strings.TrimSpace(string(data)), "\n")
	}
	f, err := os.Open(d)
	if err != nil {
		return nil
	}
	defer f.Close()
	res, err := link.QueryPrograms(link.QueryOptions{Target: int(f.Fd()), Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range res.Programs {
		out = append(out, fmt.Sprintf("bpf program id %d", p.ID))
	}
	return out
}

// AllowNodes adds an allow rule for each device node the spec asks the
// runtime to create (linux.devices), as runc does: a node the container
// was given must also be usable. Only when there is a device list at all:
// a spec without one leaves the devices cgroup alone. cg-limit applies it
// to the document it reads; ns-enter to the spec it makes a cgroup for.
func AllowNodes(rules []specs.LinuxDeviceCgroup, nodes []specs.LinuxDevice) []specs.LinuxDeviceCgroup {
	if len(rules) == 0 {
		return rules
	}
	for _, n := range nodes {
		if n.Type != "c" && n.Type != "b" && n.Type != "u" {
			continue // a fifo (p) is no device to the cgroup
		}
		t := n.Type
		if t == "u" {
			t = "c" // unbuffered character device
		}
		maj, min := n.Major, n.Minor
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: t, Major: &maj, Minor: &min, Access: "rwm"})
	}
	return rules
}
