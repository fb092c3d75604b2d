package engine

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/term"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
)

// execConfig is the body of POST /containers/ID/exec.
type execConfig struct {
	AttachStdin, AttachStdout, AttachStderr, Tty, Privileged, Detach bool
	Cmd                                                              strSlice
	Env                                                              []string
	WorkingDir, User                                                 string
}

// An execInstance is docker's exec: made by exec create, run by exec
// start (ctr-run exec's ns-enter --target), inspected for its exit code.
type execInstance struct {
	id        string
	container *lifecycle.Container
	cfg       execConfig
	mu        sync.Mutex
	running   bool
	pid       int
	exitCode  *int
	master    *os.File
}

func (s *Server) execCreate(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	var cfg execConfig
	if err := readJSON(r, &cfg); err != nil {
		return err
	}
	if len(cfg.Cmd) == 0 {
		return errf(http.StatusBadRequest, "field \"Cmd\" is empty: name the command to run")
	}
	if c.PID() == 0 {
		return errf(http.StatusConflict, "container %s is not running: exec needs a running container", c.Name)
	}
	e := &execInstance{id: spec.NewID() + spec.NewID(), container: c, cfg: cfg}
	s.mu.Lock()
	s.execs[e.id] = e
	s.mu.Unlock()
	return writeJSON(w, http.StatusCreated, map[string]string{"Id": e.id})
}

func (s *Server) execFind(r *http.Request) (*execInstance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.execs[r.PathValue("id")]
	if e == nil {
		return nil, errf(http.StatusNotFound, "no such exec instance: %s", r.PathValue("id"))
	}
	return e, nil
}

// execStart runs the exec's ns-enter with the hijacked connection as its
// stdio (through pipes, or a terminal with -t).
func (s *Server) execStart(w http.ResponseWriter, r *http.Request) error {
	e, err := s.execFind(r)
	if err != nil {
		return err
	}
	var body struct{ Detach, Tty bool }
	if err := readJSON(r, &body); err != nil {
		return err
	}
	e.mu.Lock()
	if e.running || e.exitCode != nil {
		e.mu.Unlock()
		return errf(http.StatusConflict, "exec %s has already run", e.id)
	}
	e.running = true
	e.mu.Unlock()
	cfg := e.cfg
	st, env, err := e.container.Exec(cfg.Cmd, lifecycle.ExecOptions{Interactive: cfg.AttachStdin, TTY: cfg.Tty,
		Privileged: cfg.Privileged, Env: cfg.Env, Workdir: cfg.WorkingDir, User: cfg.User}, s.runEnv())
	if err != nil {
		return errf(http.StatusConflict, "%v", err)
	}
	cmd := exec.Command(lifecycle.Bin(st.Command), st.Args...)
	cmd.Env = env
	s.log.Step(fmt.Sprintf("fork(); execve(%q)", cmd.Path), explain.Join(append([]string{st.Command}, st.Args...)))
	if body.Detach {
		if err := cmd.Start(); err != nil {
			return err
		}
		go e.finish(cmd)
		w.WriteHeader(http.StatusOK)
		return nil
	}
	conn, in, err := hijack(w, r, !cfg.Tty)
	if err != nil {
		return err
	}
	a := newAttachment(conn, in, r, cfg.Tty)
	a.stdin, a.stdout, a.stderr = cfg.AttachStdin, true, true
	defer a.close()
	var closers []io.Closer
	var copies sync.WaitGroup
	output := func(stream byte, rd io.Reader) {
		copies.Add(1)
		go func() {
			defer copies.Done()
			buf := make([]byte, 32*1024)
			for {
				n, err := rd.Read(buf)
				if n > 0 && a.write(stream, buf[:n]) != nil {
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	if cfg.Tty {
		master, slave, err := pty.Open()
		if err != nil {
			return nil
		}
		defer master.Close()
		term.MakeRaw(int(slave.Fd())) // see startSession
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		e.master = master
		closers = append(closers, slave)
		if cfg.AttachStdin {
			go io.Copy(master, in)
		}
		output(1, master)
	} else {
		outR, outW, _ := os.Pipe()
		errR, errW, _ := os.Pipe()
		defer outR.Close()
		defer errR.Close()
		cmd.Stdout, cmd.Stderr = outW, errW
		closers = append(closers, outW, errW)
		if cfg.AttachStdin {
			inR, inW, _ := os.Pipe()
			cmd.Stdin = inR
			closers = append(closers, inR)
			go func() { io.Copy(inW, in); inW.Close() }()
		}
		output(1, outR)
		output(2, errR)
	}
	err = cmd.Start()
	for _, c := range closers {
		c.Close()
	}
	if err != nil {
		e.done(125)
		return nil
	}
	e.mu.Lock()
	e.pid = cmd.Process.Pid
	e.mu.Unlock()
	status := exitStatus(cmd.Wait())
	if e.master != nil {
		e.master.Close()
	}
	copies.Wait()
	e.done(status)
	return nil
}

func (e *execInstance) finish(cmd *exec.Cmd) { e.done(exitStatus(cmd.Wait())) }

func (e *execInstance) done(status int) {
	e.mu.Lock()
	e.running, e.exitCode = false, &status
	e.mu.Unlock()
}

func (s *Server) execResize(w http.ResponseWriter, r *http.Request) error {
	e, err := s.execFind(r)
	if err != nil {
		return err
	}
	if e.master == nil {
		return nil
	}
	return resize(e.master, r)
}

func (s *Server) execInspect(w http.ResponseWriter, r *http.Request) error {
	e, err := s.execFind(r)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var code any
	if e.exitCode != nil {
		code = *e.exitCode
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"ID": e.id, "ContainerID": e.container.ID, "Running": e.running, "ExitCode": code, "Pid": e.pid,
		"OpenStdin": e.cfg.AttachStdin, "OpenStdout": true, "OpenStderr": true, "CanRemove": false,
		"ProcessConfig": map[string]any{"entrypoint": e.cfg.Cmd[0], "arguments": e.cfg.Cmd[1:], "tty": e.cfg.Tty, "privileged": e.cfg.Privileged, "user": e.cfg.User},
	})
}

// forgetExecs drops the exec instances of a removed container.
func (s *Server) forgetExecs(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, e := range s.execs {
		if e.container.ID == id {
			delete(s.execs, k)
		}
	}
}
