package engine

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"ctrkit/ctr-run/lifecycle"

	"github.com/creack/pty"
)

// follow hands the container's log to write a line at a time, stdout (1)
// or stderr (2), with its time when timestamps (docker logs -t); from its
// last tail lines when tail ≥ 0; until it has exited when follow, or until
// stop is closed.
func (s *Server) follow(c *lifecycle.Container, write func(byte, []byte) error, tail int, follow, timestamps bool, stop <-chan struct{}) error {
	if _, err := os.Stat(c.Path("log")); err != nil {
		return nil // never started: no log
	}
	skip := 0
	if tail >= 0 {
		n := 0
		c.ReadLogs(false, stop, func(string, time.Time, []byte) error { n++; return nil })
		skip = max(n-tail, 0)
	}
	return c.ReadLogs(follow, stop, func(stream string, t time.Time, line []byte) error {
		if skip > 0 {
			skip--
			return nil
		}
		if timestamps {
			line = append([]byte(t.Format(time.RFC3339Nano)+" "), line...)
		}
		if stream == "stderr" {
			return write(2, line)
		}
		return write(1, line)
	})
}

// containerLogs is GET /containers/ID/logs: the log's lines, each framed
// as the stream it came from (stdout=1, stderr=2 query parameters choose).
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
	want := map[byte]bool{1: boolParam(r, "stdout"), 2: boolParam(r, "stderr")}
	if !want[1] && !want[2] {
		want[1], want[2] = true, true
	}
	filtered := func(stream byte, p []byte) error {
		if !want[stream] {
			return nil
		}
		return write(stream, p)
	}
	return s.follow(c, filtered, tail, boolParam(r, "follow"), boolParam(r, "timestamps"), r.Context().Done())
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
