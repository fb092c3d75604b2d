package container

import (
	"io"
	"os"
	"os/signal"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// console is the pseudo-terminal of a container started with -t: the
// container gets the terminal's "slave" side as its stdin, stdout and
// stderr and its controlling terminal; ns-enter holds the "master" side and
// copies the user's keyboard in and the screen out.
type console struct {
	master, slave *os.File
	in            *os.File // the user's keyboard
	restore       func()
}

// newConsole opens a pty sized like the user's terminal (or size, when
// the spec gives one).
func newConsole(in *os.File, width, height uint) (*console, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, err
	}
	c := &console{master: master, slave: slave, in: in, restore: func() {}}
	if width > 0 && height > 0 {
		pty.Setsize(master, &pty.Winsize{Cols: uint16(width), Rows: uint16(height)})
	} else {
		pty.InheritSize(in, master)
	}
	return c, nil
}

// start puts the user's terminal in raw mode (so keys such as Ctrl-C reach
// the container's terminal instead of killing ns-enter), copies both ways
// and follows window size changes. done is closed when the output ends.
func (c *console) start(out io.Writer) (done chan struct{}) {
	if state, err := term.MakeRaw(int(c.in.Fd())); err == nil {
		c.restore = func() { term.Restore(int(c.in.Fd()), state) }
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, unix.SIGWINCH)
	go func() {
		for range winch {
			pty.InheritSize(c.in, c.master)
		}
	}()
	go io.Copy(c.master, c.in)
	done = make(chan struct{})
	go func() {
		io.Copy(out, c.master) // ends with EIO when the last slave fd closes
		close(done)
	}()
	return done
}

func (c *console) close() {
	c.restore()
	c.master.Close()
	c.slave.Close()
}
