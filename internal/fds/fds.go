// Package fds keeps a process's inherited file descriptors from travelling
// further than they must.
//
// execve(2) keeps every descriptor that is not marked close-on-exec, and
// Go's os/exec passes on every one it inherited (only the descriptors Go
// opens itself carry O_CLOEXEC). A program that starts long-lived children
// (ctr-run's supervisor, ns-enter's container) therefore hands them
// whatever its caller left open: `( exec 42</ ; ctr-run run -d … )` gave
// the container the host's "/" (see ns-enter/container/hygiene.go for the
// escape this is, CVE-2024-21626).
package fds

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseOnExec marks every descriptor from first up close-on-exec, so no
// program this process executes afterwards inherits them; they stay usable
// here. It is close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) (Linux 5.11),
// or, on older kernels, fcntl(FD_CLOEXEC) on each entry of /proc/self/fd.
func CloseOnExec(first int) error {
	err := unix.CloseRange(uint(first), ^uint(0), unix.CLOSE_RANGE_CLOEXEC)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("close_range(%d, ~0, CLOSE_RANGE_CLOEXEC): %w", first, err)
	}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list descriptors to close: %w (is /proc mounted?)", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("list descriptors to close: %w", err)
	}
	for _, n := range names {
		if fd, err := strconv.Atoi(n); err == nil && fd >= first {
			unix.CloseOnExec(fd) // the directory's own descriptor is closed by now: EBADF is fine
		}
	}
	return nil
}
