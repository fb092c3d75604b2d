package container

// Coverage of stage 1, for `make cover-all` only.
//
// A binary built with -cover writes its counters into $GOCOVERDIR when it
// exits. Stage 1 does not exit: it becomes the container's process by
// execve, and with it go the counters of everything it did (the mounts,
// pivot_root, capabilities, seccomp…). And when it does exit (--init, or
// a failure), pivot_root has taken $GOCOVERDIR's path away. So stage 1 is
// handed ns-enter's GOCOVERDIR, opens it at its start while the host's
// paths are still visible, writes its counters into it through that
// descriptor just before execve, and, when Init returns, writes them and
// exits at once (the exit hook would write again, to the lost path, and
// complain on the container's stderr). A stage 1 that joins a mount
// namespace (exec into a container) gets no GOCOVERDIR: the C half
// (ns-enter/setns) enters it before the Go runtime starts, and the runtime
// could not write there (it warns that GOCOVERDIR is not set instead, on
// the process's stderr, and its counters are lost). In an ordinary build (no -cover)
// nothing changes: runtime/coverage reports no meta-data and stage 1
// returns as usual.

import (
	"fmt"
	"os"
	"runtime/coverage"

	"golang.org/x/sys/unix"
)

// coverEnv is what initCommand adds to stage 1's environment.
func coverEnv(p *runPlan) []string {
	d := os.Getenv("GOCOVERDIR")
	if d == "" {
		return nil
	}
	for _, j := range p.joined {
		if j.kind.Flag == unix.CLONE_NEWNS {
			return nil
		}
	}
	return []string{"GOCOVERDIR=" + d}
}

// coverFD is stage 1's descriptor of the coverage directory, -1 if none.
var coverFD = -1

// openCoverDir opens the directory at stage 1's start, high above the
// descriptors stage 1 is handed (so it never takes one of their numbers).
func openCoverDir() {
	d := os.Getenv("GOCOVERDIR")
	if d == "" {
		return
	}
	fd, err := unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	coverFD, _ = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 1000)
	unix.Close(fd)
}

// writeCoverage writes stage 1's coverage meta-data and counters (the
// build needs -covermode=atomic), best effort: a container without /proc,
// or whose user may not write the directory, loses them. It reports
// whether it wrote them.
func writeCoverage() bool {
	if coverFD < 0 {
		return false
	}
	dir := fmt.Sprintf("/proc/self/fd/%d", coverFD)
	return coverage.WriteMetaDir(dir) == nil && coverage.WriteCountersDir(dir) == nil
}

// coverExit ends stage 1 with code once its counters are written.
func coverExit(code int) {
	if writeCoverage() {
		unix.Exit(code)
	}
}
