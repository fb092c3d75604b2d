// Package seccomp compiles an OCI linux.seccomp profile into a seccomp-bpf
// filter and loads it into the kernel.
//
// # What seccomp-bpf is
//
// Namespaces limit what a process can see, capabilities what it may do as
// root; neither shrinks the kernel's attack surface. Every one of the ~450
// system calls stays reachable, and a bug in any of them (keyctl, userfaultfd,
// an obscure socket family, a new namespace made with unshare(2)) is a way
// out of the container. seccomp ("secure computing") lets a process hand the
// kernel a small program, in classic BPF, that runs on the entry of every
// system call it makes from then on. The program sees only struct
// seccomp_data: the syscall number, the architecture (AUDIT_ARCH_*) and the
// six raw argument registers (no pointers are followed, so a path cannot be
// filtered), and returns an action:
//
//	SCMP_ACT_ALLOW         SECCOMP_RET_ALLOW          run the call
//	SCMP_ACT_ERRNO(n)      SECCOMP_RET_ERRNO|n        do not run it; it returns -1 and errno n
//	SCMP_ACT_KILL_THREAD   SECCOMP_RET_KILL_THREAD    kill the thread (SIGSYS); SCMP_ACT_KILL is this
//	SCMP_ACT_KILL_PROCESS  SECCOMP_RET_KILL_PROCESS   kill the whole process (Linux 4.14)
//	SCMP_ACT_TRAP          SECCOMP_RET_TRAP           send SIGSYS, which the program may handle
//	SCMP_ACT_TRACE(n)      SECCOMP_RET_TRACE|n        stop for a ptrace(2) tracer; ENOSYS without one
//	SCMP_ACT_LOG           SECCOMP_RET_LOG            run the call and log it (Linux 4.14)
//	SCMP_ACT_NOTIFY        SECCOMP_RET_USER_NOTIF     ask a supervisor over a file descriptor (5.0)
//
// A filter is one-way: it survives fork and execve, can never be removed,
// only stacked upon (every stacked filter runs; the strictest answer wins).
// /proc/PID/status shows the mode as "Seccomp: 2" (0: none, 1: strict) and
// "Seccomp_filters: N".
//
// # How the filter is compiled
//
// A profile is a list of rules ("syscalls"): names, an action and optional
// argument conditions, plus a default action for every call no rule
// matches. Turning it into BPF means: check the architecture word first (a
// process can switch to the 32-bit ABI, where the numbers differ: on x86-64
// the same program can call int 0x80 with i386 numbers), map each name to its
// number on every listed architecture, build a decision tree over the
// numbers and compare 64-bit arguments with 32-bit BPF loads. That is what
// libseccomp does, and what docker, runc, crun and podman all use;
// ctrkit uses it too, through github.com/seccomp/libseccomp-golang (cgo:
// ns-enter is built with cgo already for its setns constructor).
//
// A pure-Go compiler (such as elastic/go-seccomp-bpf) would keep ns-enter
// free of the C library, but it would mean one more set of syscall tables to
// keep in step with the kernel, and one more translation of the OCI
// semantics (errnoRet per rule, MASKED_EQ, several architectures in one
// filter, names resolved per architecture) to get exactly right; the
// profiles people write are tested against runc and crun, that is, against
// libseccomp. The BPF itself is not the
// lesson here; which calls a container needs, and when the filter may be
// loaded, are. So: libseccomp, at the price of libseccomp-dev and
// pkg-config at build time (scripts/setup.sh) and libseccomp.so.2 at run
// time.
//
// The OCI fields map to libseccomp like this:
//
//	defaultAction, defaultErrnoRet   seccomp_init(action)
//	architectures                    seccomp_arch_add, per SCMP_ARCH_* name
//	syscalls[].names                 seccomp_syscall_resolve_name, per name
//	syscalls[].action, errnoRet      the rule's action (errno EPERM when not given)
//	syscalls[].args                  seccomp_rule_add conditions: index, value, valueTwo, op
//	flags                            SECCOMP_FILTER_FLAG_TSYNC, _LOG (attr LOG), _SPEC_ALLOW (attr SSB)
//
// Conditions on different arguments of one rule must all hold (AND); two
// conditions on the same argument cannot both be expressed in one libseccomp
// rule, so, as runc does, each becomes a rule of its own (OR). For
// SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the value the masked
// argument must equal: docker allows clone(2) only when
// (flags & CLONE_NEW*) == 0.
//
// Refused, with an error naming the field: SCMP_ACT_NOTIFY and listenerPath
// (they need a supervisor process to answer, which ctrkit does not have),
// other flags, unknown actions, operators and architectures, an argument
// index above 5, errnoRet on an action that returns no errno.
//
// # Syscall names this libseccomp does not know
//
// A name is resolved by libseccomp's own table, so a libseccomp older than
// the kernel cannot name the newest calls: docker's own default profile
// allows mseal, listmount, statmount, setxattrat… which libseccomp 2.5.4
// (Debian 12) cannot resolve. runc skips such names silently. ctrkit's rule:
//
//   - a name that is not shaped like a syscall name ([a-z0-9_]) is an error;
//   - an unresolvable name in an SCMP_ACT_ALLOW rule is skipped when docker's
//     default profile lists it (a real call, newer than this libseccomp):
//     skipping only makes the filter stricter, the call gets the default
//     action. --explain notes the skipped names;
//   - any other unresolvable name is an error: in an allow rule it is most
//     likely a typo, and in a rule that blocks a call, skipping it would
//     silently let the call through.
//
// # When the filter must be loaded
//
// The kernel accepts a filter from a process only when it has set
// no_new_privs (prctl(PR_SET_NO_NEW_PRIVS), so a filter cannot be used to
// confuse a set-user-id program into misbehaving) or holds CAP_SYS_ADMIN in
// its user namespace. And from the moment it is loaded, every call ns-enter
// still makes is filtered too. So, as runc does:
//
//   - with process.noNewPrivileges (ctrkit's default, as `runc spec`), the
//     filter is loaded as late as possible, right before execve, so that it
//     need not allow mount, pivot_root, sethostname, capset… which the
//     setup itself uses;
//   - without it, it is loaded before the capabilities are dropped, while
//     CAP_SYS_ADMIN is still held; the profile must then allow setuid,
//     setgroups, capset and prctl, which docker's does.
//
// A filter attaches to the calling thread only, and a Go program has
// several. ns-enter's stage 1 keeps main locked to the thread that will
// execve, and execve ends every other thread, so that thread's filter is the
// program's. With --init, though, ns-enter stays PID 1 of the container, a
// Go process with its threads running. So the filter is loaded with
// SECCOMP_FILTER_FLAG_TSYNC (as libseccomp-golang does for every filter),
// which gives every thread of the process the same filter at once, or fails.
// libseccomp's habit of setting no_new_privs itself before loading is turned
// off: whether the process gets no_new_privs is the spec's decision.
//
// # Who compiles, who loads
//
// Stage 0 (ns-enter on the host) adds the rules before anything is made,
// so a bad profile leaves nothing behind, then has libseccomp generate the
// BPF (seccomp_export_bpf: most of the work) while stage 1 starts and sets
// up. Stage 1 receives the instructions with the spec and loads them with
// seccomp(2) itself: the container's setup never waits for libseccomp, which
// is what a runtime saves by compiling once (crun keeps the BPF in its state
// directory for exec, too). And a profile compiled once is not compiled
// again: stage 0 keeps the program in a cache (cache.go).
//
// There is no stock shell command that loads a filter (systemd's
// SystemCallFilter= and bubblewrap's --seccomp FD do it for their own
// children); `grep Seccomp /proc/PID/status` shows one is in place.
package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// syscallName is what a syscall name looks like in syscalls(2).
// Compiled on first use, not at every start of ns-enter.
var syscallName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_]*$`) })

// Filter is a profile whose rules libseccomp has taken; Program turns it
// into the BPF to load. Release it when done.
type Filter struct {
	scmp    *libseccomp.ScmpFilter
	summary string   // for the explain line
	flags   uint     // seccomp(2)'s: SECCOMP_FILTER_FLAG_*
	Calls   int      // syscall names the filter has rules for
	Skipped []string // names this libseccomp cannot resolve, skipped (allow rules only)
}

// Compile checks p and builds its filter, without loading it. Every error
// names the field and value at fault.
func Compile(p *specs.LinuxSeccomp) (*Filter, error) {
	if p.ListenerPath != "" || len(p.ListenerMetadata) > 0 {
		return nil, fmt.Errorf("listenerPath %q: SCMP_ACT_NOTIFY supervisors are not supported by ns-enter; use SCMP_ACT_ERRNO or SCMP_ACT_LOG", p.ListenerPath)
	}
	if p.DefaultAction == "" {
		return nil, errors.New("defaultAction is missing: every profile needs one, e.g. SCMP_ACT_ERRNO (deny what no rule allows)")
	}
	def, err := action("defaultAction", p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	scmp, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("seccomp_init(%s): %w", p.DefaultAction, err)
	}
	f := &Filter{scmp: scmp}
	if err := f.build(p, def); err != nil {
		scmp.Release()
		return nil, err
	}
	return f, nil
}

func (f *Filter) build(p *specs.LinuxSeccomp, def libseccomp.ScmpAction) error {
	// libseccomp would set no_new_privs itself before loading; the spec's
	// process.noNewPrivileges decides that.
	if err := f.scmp.SetNoNewPrivsBit(false); err != nil {
		return fmt.Errorf("seccomp_attr_set(SCMP_FLTATR_CTL_NNP, 0): %w", err)
	}
	flags := []string{"SECCOMP_FILTER_FLAG_TSYNC"} // so a Go process's every thread takes it
	f.flags = unix.SECCOMP_FILTER_FLAG_TSYNC
	for _, fl := range p.Flags {
		switch fl {
		case "SECCOMP_FILTER_FLAG_TSYNC": // on anyway
		case specs.LinuxSeccompFlagLog:
			if err := f.scmp.SetLogBit(true); err != nil {
				return fmt.Errorf("flags: %s: %w (needs Linux 4.14 and libseccomp 2.4)", fl, err)
			}
			flags = append(flags, string(fl))
			f.flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			if err := f.scmp.SetSSB(true); err != nil {
				return fmt.Errorf("flags: %s: %w (needs Linux 4.17 and libseccomp 2.5)", fl, err)
			}
			flags = append(flags, string(fl))
			f.flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		default:
			return fmt.Errorf("flags: %q is not supported: use SECCOMP_FILTER_FLAG_TSYNC, SECCOMP_FILTER_FLAG_LOG or SECCOMP_FILTER_FLAG_SPEC_ALLOW", fl)
		}
	}
	var arches []string
	for _, a := range p.Architectures {
		arch, err := architecture(a)
		if err != nil {
			return err
		}
		if err := f.scmp.AddArch(arch); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("architectures: add %s: %w (this libseccomp may not support it)", a, err)
		}
		arches = append(arches, strings.ToLower(strings.TrimPrefix(string(a), "SCMP_ARCH_")))
	}
	rules, names := 0, map[string]bool{}
	for i, sc := range p.Syscalls {
		where := fmt.Sprintf("syscalls[%d]", i)
		act, err := action(where+".action", sc.Action, sc.ErrnoRet)
		if err != nil {
			return err
		}
		if len(sc.Names) == 0 {
			return fmt.Errorf("%s: names is empty: list the calls the rule is for, e.g. [\"mkdir\"]", where)
		}
		conds, err := conditions(where, sc.Args)
		if err != nil {
			return err
		}
		for _, name := range sc.Names {
			if !syscallName().MatchString(name) {
				return fmt.Errorf("%s: %q is not a syscall name: names are lower case, like \"mkdir\" or \"clock_gettime\" (see syscalls(2))", where, name)
			}
			nr, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				if sc.Action == specs.ActAllow && dockerKnows(name) {
					f.Skipped = append(f.Skipped, name)
					continue
				}
				return unknownSyscall(where, name, sc.Action)
			}
			names[name] = true
			if act == def {
				continue // the default does the same; libseccomp refuses such rules
			}
			for _, c := range conds {
				if err := f.scmp.AddRuleConditional(nr, act, c); err != nil {
					return fmt.Errorf("%s: add the rule %s for %q: %w", where, sc.Action, name, err)
				}
				rules++
			}
		}
	}
	f.Calls = len(names)
	f.summary = fmt.Sprintf("%s, {default %s, %d syscalls in %d rules", strings.Join(flags, "|"), actionString(p.DefaultAction, p.DefaultErrnoRet), f.Calls, rules)
	if len(arches) > 0 {
		f.summary += ", arches " + strings.Join(arches, ",")
	}
	f.summary += "}"
	return nil
}

// Program is a compiled filter as the kernel takes it: the classic BPF
// instructions (struct sock_filter, 8 bytes each) and the seccomp(2) flags.
// Generating the BPF is most of libseccomp's work (~14 ms for docker's
// profile on three architectures, against ~4 ms to add its rules): stage 0
// does it while stage 1 starts, and stage 1 only hands the result to the
// kernel.
type Program struct {
	BPF     []byte   `json:"bpf"`
	Flags   uint     `json:"flags"`
	Summary string   `json:"summary"`           // for the explain line
	Skipped []string `json:"skipped,omitempty"` // as Filter.Skipped
}

// Program generates f's BPF (seccomp_export_bpf, into a memfd: libseccomp
// 2.5 exports to a descriptor only).
func (f *Filter) Program() (*Program, error) {
	fd, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer mem.Close()
	if err := f.scmp.ExportBPF(mem); err != nil {
		return nil, fmt.Errorf("seccomp_export_bpf: %w", err)
	}
	bpf, err := io.ReadAll(io.NewSectionReader(mem, 0, 1<<24))
	if err != nil {
		return nil, fmt.Errorf("read the exported filter: %w", err)
	}
	if len(bpf) == 0 || len(bpf)%sockFilterSize != 0 {
		return nil, fmt.Errorf("libseccomp exported %d bytes, not a whole number of BPF instructions", len(bpf))
	}
	return &Program{BPF: bpf, Flags: f.flags, Summary: f.summary, Skipped: f.Skipped}, nil
}

// sockFilterSize is sizeof(struct sock_filter): code, jt, jf, k.
const sockFilterSize = 8

// String is the explain line of the load:
// seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, {default …}).
func (p *Program) String() string {
	return "seccomp(SECCOMP_SET_MODE_FILTER, " + p.Summary + ")"
}

// Load installs the filter for every thread of the calling process
// (SECCOMP_FILTER_FLAG_TSYNC), for good. The caller must have set
// no_new_privs or hold CAP_SYS_ADMIN.
//
// Equivalent to: none in a stock shell; `grep Seccomp /proc/PID/status`
// shows the result.
func (p *Program) Load() error {
	prog := unix.SockFprog{
		Len:    uint16(len(p.BPF) / sockFilterSize),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p.BPF[0])),
	}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(p.Flags), uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(p.BPF)
	switch {
	case errno == unix.EACCES:
		return fmt.Errorf("load the seccomp filter: %w (needs no_new_privs or CAP_SYS_ADMIN)", errno)
	case errno != 0:
		return fmt.Errorf("load the seccomp filter: %w", errno)
	case r != 0: // TSYNC: the id of a thread that could not take the filter
		return fmt.Errorf("load the seccomp filter: thread %d of this process cannot take it (SECCOMP_FILTER_FLAG_TSYNC)", r)
	}
	return nil
}

// Release frees libseccomp's copy of the filter.
func (f *Filter) Release() { f.scmp.Release() }
