package container

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"

	"ctrkit/internal/explain"
	"github.com/creack/pty"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// A container started with -t gets a pseudo-terminal made inside it, from
// its own devpts instance, the way runc does: stage 1 opens /dev/ptmx after
// pivot_root, makes the matching /dev/pts/N its stdin, stdout, stderr and
// controlling terminal, and hands the master side to ns-enter over a unix
// socket (SCM_RIGHTS). So `tty` inside prints a path that exists inside.
// ns-enter holds the master: it copies the user's keyboard in and the
// screen out, and passes on window size changes.

// consoleSize is the terminal size a -t container starts with: the spec's
// consoleSize, else the size of the user's terminal, else docker's 80x24.
// It is set before the container's first instruction, so even a command
// that asks at once (stty size) gets it.
func consoleSize(s *specs.Process, in *os.File) unix.Winsize {
	if b := s.ConsoleSize; b != nil && b.Width > 0 && b.Height > 0 {
		return unix.Winsize{Col: uint16(b.Width), Row: uint16(b.Height)}
	}
	if in != nil {
		if ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 && ws.Row > 0 {
			return *ws
		}
	}
	return unix.Winsize{Col: 80, Row: 24}
}

// openConsole runs in stage 1: it makes the terminal with size ws, sends
// its master over sock and attaches the calling process to the slave.
func openConsole(log *explain.Log, sock *os.File, uid int, ws unix.Winsize) error {
	log.Step(`open("/dev/ptmx", O_RDWR|O_NOCTTY); ioctl(TIOCSPTLCK, 0); ioctl(TIOCGPTN)`, "")
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ptmx for -t: %w", err)
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlock the pseudo-terminal: %w", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		return fmt.Errorf("find the pseudo-terminal's number: %w", err)
	}
	if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &ws); err != nil {
		return fmt.Errorf("set the terminal's size: %w", err)
	}
	path := fmt.Sprintf("/dev/pts/%d", n)
	slave, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer slave.Close()
	if err := unix.Fchown(int(slave.Fd()), uid, -1); err != nil {
		return fmt.Errorf("chown %s to the container's user: %w", path, err)
	}
	log.Step("sendmsg(SCM_RIGHTS, master)", "")
	if err := unix.Sendmsg(int(sock.Fd()), []byte{'m'}, unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return fmt.Errorf("hand the terminal to ns-enter: %w", err)
	}
	sock.Close()
	// No shell half: a shell cannot unlock a pty (unlockpt) nor pass its
	// master end over a socket, so a replayed -t transcript goes on with
	// the replaying shell's own stdin and stdout, without a terminal.
	log.Step(fmt.Sprintf("setsid(); ioctl(%q, TIOCSCTTY); dup2 onto 0, 1, 2", path), "")
	log.Note("-t: %s is the container's terminal; a replay has none (stock tools cannot unlock a pty or hand its master over a socket) and keeps the shell's own input and output", path)
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if err := unix.IoctlSetInt(int(slave.Fd()), unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("make %s the controlling terminal: %w", path, err)
	}
	for fd := 0; fd <= 2; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup2 %s onto %d: %w", path, fd, err)
		}
	}
	return nil
}

// console is ns-enter's side of the terminal.
type console struct {
	master  *os.File
	in      *os.File // the user's keyboard
	restore func()
}

// receiveConsole takes the master that stage 1 sent over sock.
func receiveConsole(sock *os.File, in *os.File) (*console, error) {
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(sock.Fd()), make([]byte, 1), oob, 0)
	if err != nil {
		return nil, fmt.Errorf("receive the terminal from the container: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receive the terminal from the container: no descriptor in the message (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return nil, fmt.Errorf("receive the terminal from the container: %v", err)
	}
	c := &console{master: os.NewFile(uintptr(fds[0]), "ptmx"), in: in, restore: func() {}}
	return c, nil
}

// start puts the user's terminal in raw mode (so keys such as Ctrl-C reach
// the container's terminal instead of killing ns-enter), copies both ways
// and follows window size changes. done is closed when the output ends.
func (c *console) start(out io.Writer) (done chan struct{}) {
	if c.in != nil {
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
	}
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
}

// sendConsole hands the terminal's master end to whoever listens on the
// unix socket at path, the way runc --console-socket does: one message
// whose data is the terminal's name and whose control part carries the
// descriptor (SCM_RIGHTS). containerd's shim receives it and copies the
// terminal to the client itself.
func sendConsole(path string, master *os.File) error {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return fmt.Errorf("--console-socket %s: %w", path, err)
	}
	defer conn.Close()
	rights := unix.UnixRights(int(master.Fd()))
	if _, _, err := conn.(*net.UnixConn).WriteMsgUnix([]byte("/dev/ptmx"), rights, nil); err != nil {
		return fmt.Errorf("send the terminal to %s: %w", path, err)
	}
	return nil
}
