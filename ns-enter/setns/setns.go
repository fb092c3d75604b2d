// Package setns joins existing namespaces before the Go runtime starts.
//
// # Why this is C
//
// setns(2) moves only the calling thread into a namespace, and two kinds
// refuse a multi-threaded caller outright: a process may not join a mount
// namespace while it shares its filesystem attributes (root, cwd, umask)
// with other threads (EINVAL), nor a user namespace while it has more than
// one thread (EINVAL). A Go program has several threads before main runs:
// the runtime starts them for the scheduler, the garbage collector and
// signals. So by the time Go code could call setns, it is too late.
//
// runc solves this with C code that runs as an ELF constructor, when the
// binary is loaded and the process has exactly one thread, before the Go
// runtime starts (runc's libcontainer/nsenter). ctrkit does the same, in far
// fewer lines: ns-enter re-executes itself with the namespace files open as
// file descriptors and their numbers in _CTRKIT_SETNS; the constructor below
// joins them in the order given and then lets the Go runtime start, already
// inside. Every thread Go starts afterwards inherits the namespaces.
//
// A new user namespace is made here too when the container also joins
// namespaces (docker's userns-remap with a network namespace net-bridge
// made): joining a namespace owned by the host's user namespace needs the
// host root's CAP_SYS_ADMIN, which a process inside the new user namespace
// no longer has. So, in runc's order, the constructor joins first, then
// unshares the user namespace, waits for ns-enter to write its id maps,
// becomes root inside and unshares the container's other new namespaces
// (_CTRKIT_USERNS holds their flags), so that those belong to the new user
// namespace and its root may mount, set the host name and so on. Before
// leaving the host's user namespace it changes into the root filesystem
// (_CTRKIT_CHDIR): root inside is an unprivileged uid outside, which may
// not be able to reach it by its path.
//
// The constructor also moves the process into the container's cgroup,
// first of all (_CTRKIT_CGROUP), for speed. Moving a process by its PID
// (echo PID > cgroup.procs) write-locks a lock every fork in the system
// reads, and taking it waits for an RCU grace period: 8-20 ms here, the
// largest single cost of a container's start. Recent kernels skip the
// lock when a thread moves itself alone, writing "0" to a cgroup v1
// hierarchy's "tasks" file (older ones take it: as slow as before, no
// worse), and a process that is one thread then moves whole.
// Only C before the runtime is one thread, as with setns. ns-enter sends
// the files on the spec pipe and waits for "cgroup\n" on the error pipe
// before it runs any hook, so the order stays runc's. cgroup v2 has no
// such file: ns-enter moves the process there by its PID, as before.
//
// Joining a pid namespace changes only where children are born, so the
// re-executed ns-enter forks the command rather than becoming it (nsenter(1)
// does the same). Importing this package for its side effect is enough:
//
//	import _ "ctrkit/ns-enter/setns"
package setns

/*
#cgo CFLAGS: -Wall -Werror
extern void ctrkit_setns(void);
void __attribute__((constructor)) ctrkit_setns_init(void) { ctrkit_setns(); }
*/
import "C"

// Env is the variable that lists "FD:KIND" pairs to join, comma-separated.
const Env = "_CTRKIT_SETNS"

// PassEnv says how many descriptors from 3 up stage 1 passes on to the
// container; its own (the spec pipe first) follow them.
const PassEnv = "_CTRKIT_PASS_FDS"

// UsernsEnv asks for a new user namespace after the joins, and holds the
// CLONE_NEW* flags to unshare inside it.
const UsernsEnv = "_CTRKIT_USERNS"

// ChdirEnv is the directory to change into before leaving the host's user
// namespace.
const ChdirEnv = "_CTRKIT_CHDIR"

// DetachEnv makes the process that forks into a joined pid namespace exit
// once it reported the child's pid, leaving the child to a subreaper.
const DetachEnv = "_CTRKIT_DETACH"

// CgroupEnv makes the constructor read the cgroup v1 "tasks" files to
// write "0" to from the spec pipe, before anything else.
const CgroupEnv = "_CTRKIT_CGROUP"

// ErrEnv names the descriptor the constructor reports a failure on, as
// "125 message", the same format the Go side of ns-enter uses.
const ErrEnv = "_CTRKIT_ERRFD"
