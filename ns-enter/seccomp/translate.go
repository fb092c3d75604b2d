package seccomp

// The OCI profile's words in libseccomp's: actions, comparison operators,
// architectures, argument conditions, and what to say of a syscall name
// this libseccomp does not know (see the package doc, in seccomp.go).

import (
	"fmt"
	"strings"
	"sync"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// actions maps the OCI names to libseccomp's actions. SCMP_ACT_KILL is the
// old name of SCMP_ACT_KILL_THREAD.
var actions = map[specs.LinuxSeccompAction]libseccomp.ScmpAction{
	specs.ActKill:        libseccomp.ActKillThread,
	specs.ActKillThread:  libseccomp.ActKillThread,
	specs.ActKillProcess: libseccomp.ActKillProcess,
	specs.ActTrap:        libseccomp.ActTrap,
	specs.ActErrno:       libseccomp.ActErrno,
	specs.ActTrace:       libseccomp.ActTrace,
	specs.ActAllow:       libseccomp.ActAllow,
	specs.ActLog:         libseccomp.ActLog,
}

// operators maps the OCI comparison names to libseccomp's.
var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual:     libseccomp.CompareNotEqual,
	specs.OpLessThan:     libseccomp.CompareLess,
	specs.OpLessEqual:    libseccomp.CompareLessOrEqual,
	specs.OpEqualTo:      libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual,
	specs.OpGreaterThan:  libseccomp.CompareGreater,
	specs.OpMaskedEqual:  libseccomp.CompareMaskedEqual,
}

// action turns an OCI action and its errnoRet into libseccomp's, with EPERM
// as the errno when none is given (as runc does).
func action(field string, a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	if a == specs.ActNotify {
		return 0, fmt.Errorf("%s: %s is not supported: it needs a supervisor on listenerPath; use SCMP_ACT_ERRNO or SCMP_ACT_LOG", field, a)
	}
	act, ok := actions[a]
	if !ok {
		return 0, fmt.Errorf("%s: unknown action %q: use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG", field, a)
	}
	if act != libseccomp.ActErrno && act != libseccomp.ActTrace {
		if errnoRet != nil {
			return 0, fmt.Errorf("%s: %s returns no errno, so errnoRet %d means nothing: use SCMP_ACT_ERRNO", field, a, *errnoRet)
		}
		return act, nil
	}
	errno := uint(unix.EPERM)
	if errnoRet != nil {
		errno = *errnoRet
	}
	if errno > 4095 { // MAX_ERRNO: the kernel turns larger values into 4095
		return 0, fmt.Errorf("%s: errnoRet %d is not an errno: use a value from errno(3), e.g. 1 (EPERM) or 13 (EACCES)", field, errno)
	}
	return act.SetReturnCode(int16(errno)), nil
}

// actionString is how the explain line shows an action: SCMP_ACT_ERRNO(EPERM).
func actionString(a specs.LinuxSeccompAction, errnoRet *uint) string {
	if a != specs.ActErrno && a != specs.ActTrace {
		return string(a)
	}
	errno := unix.EPERM
	if errnoRet != nil {
		errno = unix.Errno(*errnoRet)
	}
	if name := unix.ErrnoName(errno); name != "" {
		return fmt.Sprintf("%s(%s)", a, name)
	}
	return fmt.Sprintf("%s(%d)", a, uint(errno))
}

// architecture turns SCMP_ARCH_X86_64 into libseccomp's constant.
func architecture(a specs.Arch) (libseccomp.ScmpArch, error) {
	name, ok := strings.CutPrefix(string(a), "SCMP_ARCH_")
	if ok {
		if arch, err := libseccomp.GetArchFromString(strings.ToLower(name)); err == nil {
			return arch, nil
		}
	}
	return 0, fmt.Errorf("architectures: unknown architecture %q: use names like SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64, SCMP_ARCH_ARM", a)
}

// conditions turns a rule's args into the libseccomp condition lists to add,
// one rule per list: all in one (AND) when each argument index appears once,
// else one rule per condition (OR), as runc does.
func conditions(where string, args []specs.LinuxSeccompArg) ([][]libseccomp.ScmpCondition, error) {
	var all []libseccomp.ScmpCondition
	seen := map[uint]bool{}
	repeated := false
	for j, a := range args {
		op, ok := operators[a.Op]
		if !ok {
			return nil, fmt.Errorf("%s.args[%d]: unknown operator %q: use SCMP_CMP_EQ, SCMP_CMP_NE, SCMP_CMP_LT, SCMP_CMP_LE, SCMP_CMP_GT, SCMP_CMP_GE or SCMP_CMP_MASKED_EQ", where, j, a.Op)
		}
		if a.Index > 5 {
			return nil, fmt.Errorf("%s.args[%d]: index %d: a syscall has at most 6 arguments, numbered 0 to 5", where, j, a.Index)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		if err != nil {
			return nil, fmt.Errorf("%s.args[%d]: %w", where, j, err)
		}
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
		all = append(all, c)
	}
	if !repeated {
		return [][]libseccomp.ScmpCondition{all}, nil
	}
	each := make([][]libseccomp.ScmpCondition, len(all))
	for i, c := range all {
		each[i] = []libseccomp.ScmpCondition{c}
	}
	return each, nil
}

func unknownSyscall(where, name string, a specs.LinuxSeccompAction) error {
	major, minor, micro := libseccomp.GetLibraryVersion()
	hint := "is it a typo? see syscalls(2)"
	if a != specs.ActAllow && dockerKnows(name) {
		hint = "the call is newer than this libseccomp, and skipping a rule that blocks it would let it through; use a newer libseccomp"
	}
	return fmt.Errorf("%s: unknown syscall %q: libseccomp %d.%d.%d cannot resolve it (%s)", where, name, major, minor, micro, hint)
}

// dockerNames are the syscall names docker's default profile lists, for
// every architecture and kernel: names known to be real.
var dockerNames = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, sc := range profiles.DefaultProfile().Syscalls {
		for _, n := range sc.Names {
			m[n] = true
		}
	}
	return m
})

func dockerKnows(name string) bool { return dockerNames()[name] }
