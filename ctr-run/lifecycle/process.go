package lifecycle

import (
	"fmt"
	"os"
	"time"

	"ctrkit/internal/fsutil"
	"ctrkit/internal/proc"
)

// readID reads a PID@START state file (a bare PID, as older state has it,
// gives start 0).
func (c *Container) readID(name string) proc.ID {
	data, err := os.ReadFile(c.Path(name))
	if err != nil {
		return proc.ID{}
	}
	id, _ := proc.Parse(string(data))
	return id
}

func (c *Container) has(name string) bool {
	_, err := os.Stat(c.Path(name))
	return err == nil
}

func (c *Container) mark(name string) error {
	return fsutil.WriteFile(c.Path(name), nil, 0o600)
}

// Process is the identity of the container's process while it runs, the
// zero ID otherwise. ns-enter writes the bare PID (STATE/ID/pid); the
// supervisor adds its start time (STATE/ID/process) at once. In between,
// the PID is trusted only while the supervisor that started it lives: a
// PID with no start time and no supervisor may belong to anyone by now.
func (c *Container) Process() proc.ID {
	if c.Exited() {
		return proc.ID{}
	}
	pid := readInt(c.Path("pid"))
	if pid <= 0 {
		return proc.ID{}
	}
	id := c.readID("process")
	switch {
	case id.PID == pid && id.Start != 0:
	case id.PID == 0 && c.readID("supervisor").Alive():
		id = proc.ID{PID: pid}
	default:
		return proc.ID{}
	}
	if !id.Alive() {
		return proc.ID{}
	}
	return id
}

// PID returns the container's process id while it runs, 0 otherwise.
func (c *Container) PID() int { return c.Process().PID }

// recordProcess waits until ns-enter has written the container's PID (or
// done has been closed) and records it with its start time. It looks
// every 2 ms: it runs beside ns-enter, on no one's path, and inotify, which
// would sleep until the rename, costs more where it ends. Closing an
// inotify instance waits until the kernel has freed its watch, after an
// SRCU grace period (8-20 ms on the machine of docs/bench.md), and a
// process cannot exit while one of its threads waits: `ctr-run --rm
// --network none busybox true` took 47.3-49.6 ms with the watch, 41.7-41.9
// without (medians of 30, interleaved).
func (c *Container) recordProcess(done <-chan struct{}) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		if pid := readInt(c.Path("pid")); pid > 0 {
			if id, err := proc.Of(pid); err == nil {
				fsutil.WriteFile(c.Path("process"), []byte(id.String()+"\n"), 0o600)
			}
			return
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

// Exited reports whether the container has ended, and ExitCode its status.
func (c *Container) Exited() bool { return c.has("exit") }

func (c *Container) ExitCode() int { return readInt(c.Path("exit")) }

// creating: the create lease exists; held tells whether its ctr-run lives.
func (c *Container) creating() (pending, held bool) {
	if !c.has("creator") {
		return false, false
	}
	return true, c.readID("creator").Alive()
}

// orphan: it runs, but the process that would record its exit (the
// supervisor, or the ctr-run running it in the foreground) is gone.
func (c *Container) orphan() bool {
	sup := c.readID("supervisor")
	return sup.PID > 0 && !sup.Alive() && c.PID() != 0
}

// Status is what `ctr-run ps` shows: creating, created, running, paused,
// restarting (N), exited (N), or dead when a crash left it half-made.
func (c *Container) Status() string {
	if pending, held := c.creating(); pending {
		if held {
			return "creating"
		}
		return "dead (create interrupted: ctr-run gc removes it)"
	}
	switch {
	case c.Exited() && c.has("restarting"):
		return fmt.Sprintf("restarting (%d)", c.ExitCode())
	case c.Exited():
		return fmt.Sprintf("exited (%d)", c.ExitCode())
	case c.PID() != 0 && c.has("paused"):
		return "paused"
	case c.orphan():
		return "running (supervisor gone)"
	case c.PID() != 0:
		return "running"
	case readInt(c.Path("pid")) > 0:
		return "exited (unknown)" // its supervisor died with it
	}
	return "created"
}

// Running reports whether the container's process runs (paused included).
func (c *Container) Running() bool { return c.PID() != 0 }
