package engine

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/creack/pty"

	"ctrkit/ctr-run/lifecycle"
)

// follow copies the container's log to a (from its last tail lines when
// tail ≥ 0), until it has exited when follow, or until stop is closed.
func (s *Server) follow(c *lifecycle.Container, write func(byte, []byte) error, tail int, follow bool, stop <-chan struct{}) error {
	f, err := os.Open(c.Path("log"))
	if err != nil {
		return nil // never started, or run by ctr-run in the foreground: no log
	}
	defer f.Close()
	if tail >= 0 {
		data, _ := io.ReadAll(f)
		lines := strings.SplitAfter(string(data), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		start := len(data)
		for i := len(lines) - 1; i >= 0 && i >= len(lines)-tail; i-- {
			start -= len(lines[i])
		}
		f.Seek(int64(start), io.SeekStart)
	}
	buf := make([]byte, 32*1024)
	for {
		for {
			n, err := f.Read(buf)
			if n > 0 {
				if err := write(1, buf[:n]); err != nil {
					return err
				}
			}
			if err != nil {
				break
			}
		}
		if !follow || c.PID() == 0 {
			return nil
		}
		select {
		case <-stop:
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// containerLogs is GET /containers/ID/logs: the log file, framed as
// stdout (ctrkit's log keeps both streams in one file).
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	cfg := s.config(c)
	tail := -1
	if t := r.URL.Query().Get("tail"); t != "" && t != "all" {
		if tail, err = strconv.Atoi(t); err != nil {
			return errf(http.StatusBadRequest, "invalid tail=%q: a number of lines or all", t)
		}
	}
	ct := "application/vnd.docker.raw-stream"
	if !cfg.Tty && !apiLess(r.Header.Get("X-Api-Version"), "1.42") {
		ct = "application/vnd.docker.multiplexed-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	fw := flushWriter{w}
	write := func(stream byte, p []byte) error {
		if cfg.Tty {
			_, err := fw.Write(p)
			return err
		}
		return frame(fw, stream, p)
	}
	return s.follow(c, write, tail, boolParam(r, "follow"), r.Context().Done())
}

type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}

func (s *Server) containerResize(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	se := s.sessions[c.ID]
	s.mu.Unlock()
	if se == nil || se.master == nil {
		return nil // no terminal of ours: nothing to resize
	}
	return resize(se.master, r)
}

func resize(master *os.File, r *http.Request) error {
	h, err1 := strconv.Atoi(r.URL.Query().Get("h"))
	wd, err2 := strconv.Atoi(r.URL.Query().Get("w"))
	if err1 != nil || err2 != nil {
		return errf(http.StatusBadRequest, "resize needs h=ROWS and w=COLUMNS")
	}
	return pty.Setsize(master, &pty.Winsize{Rows: uint16(h), Cols: uint16(wd)})
}

// containerTop lists the processes in the container's pid namespace.
func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	pid := c.PID()
	if pid == 0 {
		return errf(http.StatusConflict, "container %s is not running", c.Name)
	}
	ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return err
	}
	procs := [][]string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if other, _ := os.Readlink("/proc/" + e.Name() + "/ns/pid"); other != ns {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		procs = append(procs, []string{e.Name(), strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"Titles": []string{"PID", "CMD"}, "Processes": procs})
}
