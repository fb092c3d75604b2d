package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/explain"
	"ctrkit/internal/fsutil"
	"ctrkit/internal/proc"

	"github.com/creack/pty"
	"golang.org/x/term"
)

// hijack takes the connection from the HTTP server and answers 101
// UPGRADED (200 to a client that did not ask to upgrade): from here on the
// connection carries the container's streams, not HTTP.
func hijack(w http.ResponseWriter, r *http.Request, multiplexed bool) (net.Conn, *bufio.Reader, error) {
	conn, in, err := take(w)
	if err != nil {
		return nil, nil, err
	}
	if err := answer(conn, r, multiplexed); err != nil {
		return nil, nil, err
	}
	return conn, in, nil
}

// take is hijack without the answer, for a handler that must do
// something before the client hears back.
func take(w http.ResponseWriter) (net.Conn, *bufio.Reader, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("this connection cannot be hijacked")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	return conn, rw.Reader, nil
}

// answer writes hijack's answer on conn, and closes it if that fails.
func answer(conn net.Conn, r *http.Request, multiplexed bool) error {
	ct := "application/vnd.docker.raw-stream"
	if multiplexed && !apiLess(r.Header.Get("X-Api-Version"), "1.42") {
		ct = "application/vnd.docker.multiplexed-stream"
	}
	head := "HTTP/1.1 200 OK\r\nContent-Type: " + ct + "\r\n\r\n"
	if r.Header.Get("Upgrade") != "" {
		head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + ct + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
	}
	if _, err := conn.Write([]byte(head)); err != nil {
		conn.Close()
		return err
	}
	return nil
}

// frame writes p as one frame of stream (1 stdout, 2 stderr): the 8-byte
// header docker's stdcopy reads, then the bytes.
func frame(w io.Writer, stream byte, p []byte) error {
	buf := make([]byte, 8, 8+len(p))
	buf[0] = stream
	binary.BigEndian.PutUint32(buf[4:], uint32(len(p)))
	_, err := w.Write(append(buf, p...))
	return err
}

// An attachment is one client's hijacked connection to a container.
type attachment struct {
	conn                  net.Conn
	in                    *bufio.Reader
	stdin, stdout, stderr bool
	tty                   bool
	mu                    sync.Mutex
	once                  sync.Once
	closed                chan struct{}
}

func newAttachment(conn net.Conn, in *bufio.Reader, r *http.Request, tty bool) *attachment {
	return &attachment{conn: conn, in: in, tty: tty, closed: make(chan struct{}),
		stdin: boolParam(r, "stdin"), stdout: boolParam(r, "stdout"), stderr: boolParam(r, "stderr")}
}

func (a *attachment) write(stream byte, p []byte) error {
	if (stream == 1 && !a.stdout) || (stream == 2 && !a.stderr) {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tty {
		_, err := a.conn.Write(p)
		return err
	}
	return frame(a.conn, stream, p)
}

func (a *attachment) close() { a.once.Do(func() { a.conn.Close(); close(a.closed) }) }

// A session is a container this daemon runs itself, because a client is
// attached to it: ns-enter's stdout and stderr (or its terminal) are
// pipes here, copied to the container's log and to every attachment.
type session struct {
	mu       sync.Mutex
	atts     []*attachment
	stdin    io.WriteCloser         // nil without -i
	master   *os.File               // the terminal, with -t
	closeIn  bool                   // close stdin when a client's input ends (StdinOnce)
	log      *lifecycle.RotatingLog // STATE/ID/log, docker's json-file format
	logOut   io.WriteCloser         // its stdout and stderr records
	logErr   io.WriteCloser
	exited   chan struct{} // ns-enter has ended
	done     chan struct{} // the exit is recorded (and --rm done)
	stdinOne sync.Once
}

func (se *session) add(a *attachment) {
	se.mu.Lock()
	se.atts = append(se.atts, a)
	se.mu.Unlock()
	if a.stdin && se.stdin != nil {
		go func() {
			io.Copy(se.stdin, a.in)
			if se.closeIn {
				se.stdinOne.Do(func() { se.stdin.Close() })
			}
		}()
	}
}

// pump copies one output stream to the log and the attachments; a client
// that went away is dropped, and the container runs on, as with docker.
func (se *session) pump(stream byte, r io.Reader) {
	buf := make([]byte, 32*1024)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			p := buf[:n]
			if stream == 2 {
				se.logErr.Write(p)
			} else {
				se.logOut.Write(p)
			}
			se.mu.Lock()
			atts := append([]*attachment(nil), se.atts...)
			se.mu.Unlock()
			for _, a := range atts {
				if a.write(stream, p) != nil {
					se.drop(a)
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (se *session) drop(a *attachment) {
	a.close()
	se.mu.Lock()
	defer se.mu.Unlock()
	for i, x := range se.atts {
		if x == a {
			se.atts = append(se.atts[:i], se.atts[i+1:]...)
			return
		}
	}
}

// startSession runs the container's ns-enter here, with pipes (or a
// terminal) for its stdio, and returns once it runs.
func (s *Server) startSession(c *lifecycle.Container, cfg *containerConfig, atts []*attachment) error {
	log, err := lifecycle.OpenLog(c.Path("log"), lifecycle.LogOpts{})
	if err != nil {
		return err
	}
	se := &session{log: log, logOut: log.Stream("stdout"), logErr: log.Stream("stderr"),
		exited: make(chan struct{}), done: make(chan struct{}), closeIn: cfg.StdinOnce}
	cmd := exec.Command(lifecycle.Bin("ns-enter"), c.NsEnter...)
	cmd.Env = s.runEnv()
	var childEnds []*os.File
	var outputs []func()
	if cfg.Tty {
		master, slave, err := pty.Open()
		if err != nil {
			log.Close()
			return fmt.Errorf("open a terminal for the container: %w", err)
		}
		// Raw, as a terminal emulator leaves it to the program: no echo
		// here and no \n → \r\n here (the container's own terminal, which
		// ns-enter makes, does both).
		if _, err := term.MakeRaw(int(slave.Fd())); err != nil {
			master.Close()
			slave.Close()
			log.Close()
			return fmt.Errorf("raw mode for the container's terminal: %w", err)
		}
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		// Its own session with the terminal as controlling one: a resize
		// here sends ns-enter SIGWINCH, which it passes inside.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		se.master, se.stdin = master, master
		childEnds = append(childEnds, slave)
		outputs = append(outputs, func() { se.pump(1, master) })
	} else {
		outR, outW, err := os.Pipe()
		if err != nil {
			return err
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			return err
		}
		cmd.Stdout, cmd.Stderr = outW, errW
		childEnds = append(childEnds, outW, errW)
		outputs = append(outputs, func() { se.pump(1, outR); outR.Close() }, func() { se.pump(2, errR); errR.Close() })
		if cfg.OpenStdin {
			inR, inW, err := os.Pipe()
			if err != nil {
				return err
			}
			cmd.Stdin, se.stdin = inR, inW
			childEnds = append(childEnds, inR)
		}
	}
	if err := fsutil.WriteFile(c.Path("supervisor"), []byte(proc.Self().String()+"\n"), 0o600); err != nil {
		return err
	}
	s.log.Step(fmt.Sprintf("fork(); execve(%q)", cmd.Path), explain.Join(append([]string{"ns-enter"}, c.NsEnter...)))
	err = cmd.Start()
	for _, f := range childEnds {
		f.Close() // the child holds them now
	}
	if err != nil {
		log.Close()
		return fmt.Errorf("start ns-enter: %w", err)
	}
	s.mu.Lock()
	s.sessions[c.ID] = se
	s.mu.Unlock()
	for _, a := range atts {
		se.add(a)
	}
	var copies sync.WaitGroup
	for _, out := range outputs {
		copies.Add(1)
		go func() { defer copies.Done(); out() }()
	}
	go func() {
		status := exitStatus(cmd.Wait())
		close(se.exited)
		if se.master != nil {
			se.master.Close() // ns-enter is gone: nothing more to read
		}
		copies.Wait()
		se.logOut.Close() // a last line without a newline
		se.logErr.Close()
		log.Close()
		unlock := s.lock(c.ID)
		defer unlock()
		if err := c.RecordExit(status); err != nil {
			fmt.Fprintf(s.Stderr, "ctr-run serve: %s: record the exit: %v\n", c.ID, err)
		}
		s.mu.Lock()
		s.exits[c.ID] = status
		delete(s.sessions, c.ID)
		s.mu.Unlock()
		se.mu.Lock()
		for _, a := range se.atts {
			a.close()
		}
		se.mu.Unlock()
		if se.stdin != nil && se.master == nil {
			se.stdinOne.Do(func() { se.stdin.Close() })
		}
		if c.Rm {
			s.log.Step("", "ctr-run rm "+c.ID+"  # --rm")
			if err := c.Remove(s.env(), s.Stderr, false); err != nil {
				fmt.Fprintf(s.Stderr, "ctr-run serve: %s: --rm: %v\n", c.ID, err)
				s.mu.Lock()
				s.rmErrs[c.ID] = err
				s.mu.Unlock()
			}
			s.forgetExecs(c.ID)
		}
		close(se.done)
	}()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && c.PID() == 0; {
		select {
		case <-se.exited:
			return nil
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// exitStatus is a process's status as a shell gives it: 128+N for signal N.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return 125
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// containerAttach is POST /containers/ID/attach: before start (docker run)
// the attachment waits for the session; on a container the supervisor
// runs, it follows the log.
func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	cfg := s.config(c)
	conn, in, err := take(w)
	if err != nil {
		return err
	}
	a := newAttachment(conn, in, r, cfg.Tty)
	// The attachment is in place before the client hears back: docker
	// run starts the container once its attach is answered, and a start
	// that came first would find no attachment, run the container
	// detached, and leave this one waiting for ever. Until the answer is
	// out, a.mu keeps the container's output from going first.
	a.mu.Lock()
	follow, running := false, false
	s.mu.Lock()
	if se := s.sessions[c.ID]; se != nil {
		s.mu.Unlock()
		se.add(a)
	} else if st, _, _ := state(c); st == "created" {
		s.pending[c.ID] = append(s.pending[c.ID], a)
		s.mu.Unlock()
	} else {
		s.mu.Unlock()
		follow, running = true, st == "running"
	}
	err = answer(conn, r, !cfg.Tty)
	a.mu.Unlock()
	if err != nil {
		a.close()
		return nil // hijacked: no HTTP error can go back
	}
	if follow {
		s.follow(c, a.write, -1, running, false, nil)
		a.close()
		return nil
	}
	<-a.closed
	return nil
}
