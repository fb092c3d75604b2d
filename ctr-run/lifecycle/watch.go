package lifecycle

import (
	"os"

	"golang.org/x/sys/unix"
)

// watchDir tells when a file is finished in dir: a value on the channel
// each time one is renamed into dir or closed after writing there
// (inotify(7), IN_MOVED_TO and IN_CLOSE_WRITE; Linux 2.6.13), as
// `inotifywait -m -e moved_to,close_write DIR` prints, and once when dir
// is removed (the kernel ends the watch with IN_IGNORED). It reads through
// Go's poller, so a waiting ctr-run sleeps until the kernel has news: for
// long waits in a process that lives on (serve's wait endpoint). Its end
// is slow: closing the instance waits for an SRCU grace period, which a
// short-lived command pays at its exit (recordProcess says how much).
// stop ends the watch. A nil channel when inotify is not to be had: the
// caller then looks by itself.
func watchDir(dir string) (changed <-chan struct{}, stop func()) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, func() {}
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE); err != nil {
		unix.Close(fd)
		return nil, func() {}
	}
	f := os.NewFile(uintptr(fd), "inotify:"+dir) // non-blocking: read through the poller
	ch := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 4096) // whole events only: one holds a name of up to 255 bytes
		for {
			if _, err := f.Read(buf); err != nil {
				return // closed by stop
			}
			select {
			case ch <- struct{}{}:
			default: // one is pending already
			}
		}
	}()
	return ch, func() { f.Close() }
}

// Changes is watchDir of the container's state directory: a value when its
// process's exit is recorded, or the container is removed. Nil (look by
// yourself) when inotify is not to be had; stop ends the watch.
func (c *Container) Changes() (changed <-chan struct{}, stop func()) { return watchDir(c.Dir) }
