// Package namespace is the table of Linux namespace kinds and what the
// kernel calls each of them, plus user-namespace id maps.
//
// A namespace wraps one global resource so that the processes inside see
// their own copy. Each kind has a clone/unshare/setns flag, a file under
// /proc/PID/ns/ (whose inode number is the namespace's identity), an
// unshare(1)/nsenter(1) option, and a name in the OCI runtime spec.
package namespace

import (
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Kind describes one namespace kind.
type Kind struct {
	Name   string                   // our flag name: --pid, --net …
	Flag   uintptr                  // CLONE_NEW* for clone(2), unshare(2), setns(2)
	Proc   string                   // file under /proc/PID/ns/
	OCI    specs.LinuxNamespaceType // "type" in the runtime spec
	Option string                   // unshare(1) and nsenter(1) option
	Kernel string                   // first kernel with the kind
	Hides  string                   // what the kind isolates, for show and --help
}

// Kinds lists every kind ctrkit knows, in the order nsenter(1) joins them:
// the user namespace first, so a joined user namespace's capabilities apply
// to the rest, and the mount namespace last, since it changes the root that
// later /proc paths would be looked up in.
var Kinds = []Kind{
	{"user", unix.CLONE_NEWUSER, "user", specs.UserNamespace, "--user", "3.8", "user and group ids, capabilities"},
	{"cgroup", unix.CLONE_NEWCGROUP, "cgroup", specs.CgroupNamespace, "--cgroup", "4.6", "the cgroup root seen in /proc/self/cgroup"},
	{"ipc", unix.CLONE_NEWIPC, "ipc", specs.IPCNamespace, "--ipc", "2.6.19", "System V IPC objects and POSIX message queues"},
	{"uts", unix.CLONE_NEWUTS, "uts", specs.UTSNamespace, "--uts", "2.6.19", "host name and NIS domain name"},
	{"time", unix.CLONE_NEWTIME, "time", specs.TimeNamespace, "--time", "5.6", "the monotonic and boot-time clocks (offsets)"},
	{"net", unix.CLONE_NEWNET, "net", specs.NetworkNamespace, "--net", "2.6.29", "network devices, addresses, routes, firewall, ports"},
	{"pid", unix.CLONE_NEWPID, "pid", specs.PIDNamespace, "--pid", "3.8", "process ids"},
	{"mnt", unix.CLONE_NEWNS, "mnt", specs.MountNamespace, "--mount", "2.4.19", "the mount table"},
}

// ByName finds a kind by our name ("net"), its /proc name or its OCI type
// ("network", "mount").
func ByName(name string) (Kind, error) {
	for _, k := range Kinds {
		if name == k.Name || name == k.Proc || name == string(k.OCI) {
			return k, nil
		}
	}
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = k.Name
	}
	return Kind{}, fmt.Errorf("unknown namespace kind %q: use one of %s", name, strings.Join(names, ", "))
}

// FlagNames renders clone flags by name, e.g. "CLONE_NEWNS|CLONE_NEWPID".
func FlagNames(flags uintptr) string {
	var names []string
	for _, k := range Kinds {
		if flags&k.Flag != 0 {
			names = append(names, cloneName(k.Flag))
			flags &^= k.Flag
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

func cloneName(flag uintptr) string {
	switch flag {
	case unix.CLONE_NEWUSER:
		return "CLONE_NEWUSER"
	case unix.CLONE_NEWCGROUP:
		return "CLONE_NEWCGROUP"
	case unix.CLONE_NEWIPC:
		return "CLONE_NEWIPC"
	case unix.CLONE_NEWUTS:
		return "CLONE_NEWUTS"
	case unix.CLONE_NEWTIME:
		return "CLONE_NEWTIME"
	case unix.CLONE_NEWNET:
		return "CLONE_NEWNET"
	case unix.CLONE_NEWPID:
		return "CLONE_NEWPID"
	case unix.CLONE_NEWNS:
		return "CLONE_NEWNS"
	}
	return fmt.Sprintf("%#x", flag)
}

// Path is the file naming process pid's namespace of kind k.
func (k Kind) Path(pid int) string { return fmt.Sprintf("/proc/%d/ns/%s", pid, k.Proc) }

// Entry is one namespace of a process, as `ns-enter show` prints it.
type Entry struct {
	Kind  Kind
	Inode uint64 // the namespace's identity: equal inodes, same namespace
	Host  bool   // the same namespace as the host's (see Of)
}

// Of lists the namespaces of process pid, compared with the host's: PID 1's
// when we may read them, else our own (PID 1's are readable only to a caller
// with all of its capabilities; ptrace access mode rules, ptrace(2)).
func Of(pid int) ([]Entry, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return nil, fmt.Errorf("process %d not found: %w", pid, err)
	}
	host := HostPID()
	var es []Entry
	for _, k := range Kinds {
		ino, err := inode(k.Path(pid))
		if err != nil {
			if os.IsNotExist(err) {
				continue // kind not supported by this kernel
			}
			return nil, err
		}
		ref, err := inode(k.Path(host))
		if err != nil {
			return nil, fmt.Errorf("compare with the host: %w", err)
		}
		es = append(es, Entry{Kind: k, Inode: ino, Host: ino == ref})
	}
	return es, nil
}

// HostPID is the process whose namespaces count as the host's: PID 1 when
// its namespaces are readable, else the caller itself.
func HostPID() int {
	if _, err := os.Readlink("/proc/1/ns/mnt"); err == nil {
		return 1
	}
	return os.Getpid()
}

func inode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if err == unix.EACCES || err == unix.EPERM {
			return 0, fmt.Errorf("stat %s: %w (reading another user's namespaces needs root)", path, err)
		}
		return 0, &os.PathError{Op: "stat", Path: path, Err: err}
	}
	return st.Ino, nil
}

// ByFlag finds a kind by its CLONE_NEW* flag (a zero Kind named "?" if none).
func ByFlag(flag uintptr) Kind {
	for _, k := range Kinds {
		if k.Flag == flag {
			return k
		}
	}
	return Kind{Name: "?"}
}
