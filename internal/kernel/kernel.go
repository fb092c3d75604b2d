// Package kernel tells what the running kernel can do, for the features
// that have no cheaper test than its release: a call that would have to be
// tried cannot be tried without doing what it does.
package kernel

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

// CloneIntoCgroup reports whether clone3 can start a process inside a
// cgroup v2 directory (CLONE_INTO_CGROUP, Linux 5.7). Without it, a
// process is started first and then moved by its PID.
var CloneIntoCgroup = sync.OnceValue(func() bool { return atLeast(release(), 5, 7) })

func release() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// atLeast reports whether release (uname -r, like "6.1.0-18-amd64") is
// major.minor or later; one it cannot read is not.
func atLeast(release string, major, minor int) bool {
	var ma, mi int
	if n, _ := fmt.Sscanf(release, "%d.%d", &ma, &mi); n != 2 {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
