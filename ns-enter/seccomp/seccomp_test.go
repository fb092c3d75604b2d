package seccomp

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

func errno(n uint) *uint { return &n }

func rule(action specs.LinuxSeccompAction, names ...string) specs.LinuxSyscall {
	return specs.LinuxSyscall{Names: names, Action: action}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		profile specs.LinuxSeccomp
		want    string // a part of the error; "" for none
	}{
		{"allow all but mkdir", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{rule(specs.ActErrno, "mkdir", "mkdirat")}}, ""},
		{"errnoRet", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActErrno, ErrnoRet: errno(uint(unix.EACCES))}}}, ""},
		{"defaultErrnoRet", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, DefaultErrnoRet: errno(38), Syscalls: []specs.LinuxSyscall{rule(specs.ActAllow, "read", "write")}}, ""},
		{"every action", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			rule(specs.ActKill, "acct"), rule(specs.ActKillThread, "bpf"), rule(specs.ActKillProcess, "kexec_load"),
			rule(specs.ActTrap, "swapon"), rule(specs.ActTrace, "swapoff"), rule(specs.ActLog, "syslog")}}, ""},
		{"every operator, masked_eq with two values", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
			{Names: []string{"clone"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.CLONE_NEWUSER, ValueTwo: unix.CLONE_NEWUSER, Op: specs.OpMaskedEqual}}},
			{Names: []string{"personality"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 8, Op: specs.OpNotEqual}}},
			{Names: []string{"socket"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 0, Value: 3, Op: specs.OpGreaterThan}, {Index: 1, Value: 1, Op: specs.OpGreaterEqual}}},
			{Names: []string{"setns"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 3, Op: specs.OpLessThan}, {Index: 1, Value: 9, Op: specs.OpLessEqual}}},
			{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 9, Op: specs.OpEqualTo}}},
		}}, ""},
		{"architectures and flags", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
			Flags: []specs.LinuxSeccompFlag{"SECCOMP_FILTER_FLAG_TSYNC", specs.LinuxSeccompFlagLog, specs.LinuxSeccompFlagSpecAllow}, Syscalls: []specs.LinuxSyscall{rule(specs.ActAllow, "read")}}, ""},
		{"a rule like the default is dropped", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{rule(specs.ActAllow, "read")}}, ""},
		{"a name of another architecture", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{rule(specs.ActAllow, "chown32", "_llseek")}}, ""},

		{"no default action", specs.LinuxSeccomp{Syscalls: []specs.LinuxSyscall{rule(specs.ActAllow, "read")}}, "defaultAction is missing"},
		{"unknown default action", specs.LinuxSeccomp{DefaultAction: "SCMP_ACT_MAYBE"}, `defaultAction: unknown action "SCMP_ACT_MAYBE"`},
		{"unknown rule action", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{rule("ALLOW", "read")}}, `syscalls[0].action: unknown action "ALLOW"`},
		{"notify", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{rule(specs.ActNotify, "mount")}}, "SCMP_ACT_NOTIFY is not supported"},
		{"listener", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, ListenerPath: "/run/sup.sock"}, `listenerPath "/run/sup.sock"`},
		{"unknown flag", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Flags: []specs.LinuxSeccompFlag{specs.LinuxSeccompFlagWaitKillableRecv}}, `"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" is not supported`},
		{"unknown arch", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"SCMP_ARCH_Z80"}}, `unknown architecture "SCMP_ARCH_Z80"`},
		{"arch without prefix", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{"x86_64"}}, `unknown architecture "x86_64"`},
		{"errnoRet on allow", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{{Names: []string{"read"}, Action: specs.ActAllow, ErrnoRet: errno(1)}}}, "SCMP_ACT_ALLOW returns no errno"},
		{"defaultErrnoRet on kill", specs.LinuxSeccomp{DefaultAction: specs.ActKillProcess, DefaultErrnoRet: errno(1)}, "defaultAction: SCMP_ACT_KILL_PROCESS returns no errno"},
		{"errno too big", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"uname"}, Action: specs.ActErrno, ErrnoRet: errno(70000)}}}, "errnoRet 70000 is not an errno"},
		{"no names", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{rule(specs.ActErrno)}}, "syscalls[0]: names is empty"},
		{"not a syscall name", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{rule(specs.ActAllow, "read", "Mkdir")}}, `syscalls[0]: "Mkdir" is not a syscall name`},
		{"typo in an allow rule", specs.LinuxSeccomp{DefaultAction: specs.ActErrno, Syscalls: []specs.LinuxSyscall{rule(specs.ActAllow, "read"), rule(specs.ActAllow, "mkdri")}}, `syscalls[1]: unknown syscall "mkdri"`},
		{"unknown name in a blocking rule", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{rule(specs.ActErrno, "no_such_call")}}, `unknown syscall "no_such_call"`},
		{"unknown operator", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 1, Value: 9, Op: "SCMP_CMP_LIKE"}}}}}, `syscalls[0].args[0]: unknown operator "SCMP_CMP_LIKE"`},
		{"argument index", specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno, Args: []specs.LinuxSeccompArg{{Index: 6, Value: 9, Op: specs.OpEqualTo}}}}}, "index 6: a syscall has at most 6 arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Compile(&tt.profile)
			if f != nil {
				defer f.Release()
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Compile(%s) = %v, want no error", tt.name, err)
			case tt.want != "" && err == nil:
				t.Fatalf("Compile(%s) = nil error, want one containing %q", tt.name, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("Compile(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
		})
	}
}

// TestDockerDefault compiles docker's own default profile: names this
// libseccomp does not know are skipped, never an error.
func TestDockerDefault(t *testing.T) {
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}}}
	p, err := profiles.GetDefaultProfile(s)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Compile(p)
	if err != nil {
		t.Fatalf("Compile(docker's default) = %v, want no error", err)
	}
	defer f.Release()
	if f.Calls < 300 {
		t.Errorf("Compile(docker's default).Calls = %d, want the ~400 names it allows", f.Calls)
	}
	// mseal (Linux 6.10) is in the profile; libseccomp 2.6 knows it, 2.5 not.
	_, err = libseccomp.GetSyscallFromName("mseal")
	if skipped := slices.Contains(f.Skipped, "mseal"); skipped != (err != nil) {
		t.Errorf("mseal skipped = %v, but libseccomp resolves it: %v", skipped, err == nil)
	}
	prog, err := f.Program()
	if err != nil {
		t.Fatalf("Program() = %v", err)
	}
	// One instruction at least per allowed name, far fewer than 64 Ki.
	if n := len(prog.BPF) / 8; n < f.Calls || n > 1<<16 {
		t.Errorf("Program() = %d BPF instructions for %d calls", n, f.Calls)
	}
	if prog.Flags != unix.SECCOMP_FILTER_FLAG_TSYNC {
		t.Errorf("Program().Flags = %#x, want SECCOMP_FILTER_FLAG_TSYNC", prog.Flags)
	}
	if got := prog.String(); !strings.HasPrefix(got, "seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, {default SCMP_ACT_ERRNO(EPERM), ") {
		t.Errorf("String() = %q, want the seccomp(2) call with the default action", got)
	}
}

func TestParse(t *testing.T) {
	s := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: []string{"CAP_CHOWN"}}}}
	tests := []struct {
		name, json string
		want       string // a part of the error
		check      func(*specs.LinuxSeccomp) bool
	}{
		{"oci", `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}`, "",
			func(p *specs.LinuxSeccomp) bool { return len(p.Syscalls) == 1 && *p.Syscalls[0].ErrnoRet == 13 }},
		{"docker format: archMap and caps", `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":["SCMP_ARCH_X86"]},{"architecture":"SCMP_ARCH_AARCH64","subArchitectures":["SCMP_ARCH_ARM"]}],
			"syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW"},{"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}}]}`, "",
			func(p *specs.LinuxSeccomp) bool { return len(p.Syscalls) == 1 && p.Syscalls[0].Names[0] == "read" }},
		{"not json", `{"defaultAction": SCMP_ACT_ALLOW}`, "not a JSON seccomp profile: at byte 19", nil},
		{"empty", ``, "not a JSON seccomp profile", nil},
		{"a list", `["mkdir"]`, "not a JSON seccomp profile", nil},
		{"no defaultAction", `{"syscalls":[]}`, `no "defaultAction" field`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.json), s)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Parse(%s) = %v, want no error", tt.json, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Parse(%s) = %v, want an error containing %q", tt.json, err, tt.want)
			case tt.check != nil && !tt.check(p):
				t.Fatalf("Parse(%s) = %+v, not what the profile says", tt.json, p)
			}
		})
	}
}

// TestLoad loads a filter in a child process (a filter cannot be removed)
// and checks the kernel applies it: mkdirat with mode 0700 fails with
// EACCES (errnoRet, a MASKED_EQ condition on argument 2), with 0755 it
// works. Needs no root: the child sets no_new_privs.
func TestLoad(t *testing.T) {
	if os.Getenv("CTRKIT_SECCOMP_CHILD") != "" {
		loadChild()
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoad$")
	cmd.Env = append(os.Environ(), "CTRKIT_SECCOMP_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "open")); err != nil {
		t.Errorf("mkdirat(0755) under the filter: %v, want it made", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "private")); err == nil {
		t.Errorf("mkdirat(0700) under the filter made the directory, want EACCES")
	}
}

func loadChild() {
	dir := os.Getenv("CTRKIT_SECCOMP_CHILD")
	fail := func(what ...any) {
		fmt.Fprintln(os.Stderr, what...)
		os.Exit(3)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail("prctl", err)
	}
	f, err := Compile(&specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{
		Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: errno(uint(unix.EACCES)),
		Args: []specs.LinuxSeccompArg{{Index: 2, Value: 0o777, ValueTwo: 0o700, Op: specs.OpMaskedEqual}},
	}}})
	if err != nil {
		fail("compile", err)
	}
	p, err := f.Program()
	if err != nil {
		fail("program", err)
	}
	f.Release()
	if err := p.Load(); err != nil {
		fail("load", err)
	}
	if err := unix.Mkdirat(unix.AT_FDCWD, filepath.Join(dir, "private"), 0o700); !errors.Is(err, unix.EACCES) {
		fail("mkdirat(0700) =", err, "want EACCES")
	}
	if err := unix.Mkdirat(unix.AT_FDCWD, filepath.Join(dir, "open"), 0o755); err != nil {
		fail("mkdirat(0755) =", err)
	}
	os.Exit(0)
}
