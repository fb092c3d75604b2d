// Package signame reads a signal's name as kill(1) takes it. It has no
// dependencies beyond the system call names, so mechanism packages and the
// mains share it (internal/cli would pull in the CLI framework).
package signame

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Parse reads a signal as kill(1) takes it: a number, or a name with
// or without SIG (TERM, SIGTERM, term).
func Parse(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), nil
	}
	up := strings.ToUpper(s)
	if !strings.HasPrefix(up, "SIG") {
		up = "SIG" + up
	}
	if sig := unix.SignalNum(up); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q: use a name like TERM or KILL, or a number", s)
}
