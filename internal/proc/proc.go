// Package proc names a process so that the name survives PID reuse.
//
// A PID alone is not an identity: once a process has ended and been reaped,
// the kernel hands its number to the next process it makes (pid_max is
// 4194304 on 64-bit kernels, but a busy host wraps around in hours). A
// container's state file that says "pid 4711" outlives the container after
// a crash, and `kill(4711, SIGKILL)` then kills whatever runs as 4711 now:
// `kill(pid, 0)` only tells that *some* process has that number.
//
// The pair (PID, start time) is unique for the life of the boot: field 22
// of /proc/PID/stat is when the process started, in clock ticks after boot,
// and no two processes with the same PID can have started at the same tick.
// runc records the same pair (its state.json "init_process_start") and
// compares it before it signals a container.
//
// Reading the pair and then calling kill(2) still leaves a tiny window in
// which the process could end and its PID be reused. A pidfd (Linux 5.3,
// pidfd_open(2)) closes it: the file descriptor refers to the process, not
// the number, so after checking the start time once the fd is open,
// pidfd_send_signal(2) reaches that process or fails with ESRCH.
//
// Hand-written: the calls are the lesson, and x/sys/unix has them all.
package proc

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ID is a process identity: its PID and its start time in clock ticks after
// boot (/proc/PID/stat field 22).
type ID struct {
	PID   int    `json:"pid"`
	Start uint64 `json:"start"`
}

func (id ID) String() string { return fmt.Sprintf("%d@%d", id.PID, id.Start) }

// Parse reads "PID@START" (String's form), or a bare "PID" with start 0.
func Parse(s string) (ID, error) {
	p, st, _ := strings.Cut(strings.TrimSpace(s), "@")
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 {
		return ID{}, fmt.Errorf("process id %q: want PID@STARTTIME", s)
	}
	id := ID{PID: pid}
	if st != "" {
		if id.Start, err = strconv.ParseUint(st, 10, 64); err != nil {
			return ID{}, fmt.Errorf("process id %q: %w", s, err)
		}
	}
	return id, nil
}

// stat returns the state letter and the start time of pid.
//
// Equivalent to: `awk '{print $3, $22}' /proc/PID/stat` (for a command name
// without spaces).
func stat(pid int) (state byte, start uint64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces or
	// parentheses itself: the fields start after the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 20 { // fields 3…22
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return f[0][0], start, err
}

// Of returns the identity of the running process pid.
func Of(pid int) (ID, error) {
	_, start, err := stat(pid)
	if err != nil {
		return ID{}, fmt.Errorf("process %d: %w", pid, err)
	}
	return ID{PID: pid, Start: start}, nil
}

// Self is the calling process's identity.
func Self() ID {
	id, _ := Of(os.Getpid())
	return id
}

// Alive reports whether the process id names still runs: the PID exists,
// is not a zombie (ended, not yet reaped), and started when id says (a
// Start of 0 matches any start time).
func (id ID) Alive() bool {
	if id.PID <= 0 {
		return false
	}
	state, start, err := stat(id.PID)
	if err != nil || state == 'Z' || state == 'X' {
		return false
	}
	return id.Start == 0 || start == id.Start
}

// ErrGone says the process named is not running (any more): it ended, or
// its PID now belongs to another process.
var ErrGone = errors.New("the process has ended (its PID may now belong to another process)")

// Signal sends sig to the process id names, and to no other: it opens a
// pidfd, checks the start time through it, and signals the fd.
//
// Equivalent to: `[ "$(awk '{print $22}' /proc/PID/stat)" = START ] && kill -SIG PID`,
// without the window between the test and the kill.
func (id ID) Signal(sig syscall.Signal) error {
	if id.PID <= 0 {
		return ErrGone
	}
	fd, err := unix.PidfdOpen(id.PID, 0)
	if errors.Is(err, unix.ESRCH) {
		return ErrGone
	}
	if err != nil {
		if !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("pidfd_open(%d): %w", id.PID, err)
		}
		// Before Linux 5.3: check, then kill, and accept the window.
		if !id.Alive() {
			return ErrGone
		}
		return unix.Kill(id.PID, sig)
	}
	defer unix.Close(fd)
	// The fd now pins this process: if it is the one we mean, it stays so.
	if !id.Alive() {
		return ErrGone
	}
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return ErrGone
		}
		return fmt.Errorf("pidfd_send_signal(%d, %d): %w", id.PID, sig, err)
	}
	return nil
}

// Wait waits until the process id names has ended, or d has passed, and
// reports whether it has ended. A pidfd becomes readable when its process
// ends (zombie or reaped), so poll(2) wakes at that moment; before Linux
// 5.3 Wait looks every 20 ms.
//
// Equivalent to: `while kill -0 PID; do sleep 0.02; done` (with the start
// time checked, as Alive does).
func (id ID) Wait(d time.Duration) bool {
	deadline := time.Now().Add(d)
	fd, err := unix.PidfdOpen(id.PID, 0)
	if err != nil {
		for id.Alive() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(20 * time.Millisecond)
		}
		return true
	}
	defer unix.Close(fd)
	if !id.Alive() { // the fd pins the process: checked once, it holds
		return true
	}
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return false
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds())+1)
		if n > 0 {
			return true
		}
		if err != nil && !errors.Is(err, unix.EINTR) {
			return !id.Alive()
		}
	}
}
