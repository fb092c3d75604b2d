package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/signame"
)

// stop, kill, rm: what ctr-run stop, kill and rm do, through the same
// lifecycle calls.

func stopSignal(cfg *containerConfig) syscall.Signal {
	if cfg.StopSignal != "" {
		if sig, err := signame.Parse(cfg.StopSignal); err == nil {
			return sig
		}
	}
	return syscall.SIGTERM
}

func (s *Server) containerStop(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	if c.PID() == 0 {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	timeout := 10
	if t := r.URL.Query().Get("t"); t != "" {
		if timeout, err = strconv.Atoi(t); err != nil {
			return errf(http.StatusBadRequest, "invalid t=%q: a number of seconds", t)
		}
	}
	s.log.Step("kill(), then kill(SIGKILL) after "+strconv.Itoa(timeout)+"s", "ctr-run stop -t "+strconv.Itoa(timeout)+" "+c.ID)
	if err := c.Stop(stopSignal(s.config(c)), time.Duration(timeout)*time.Second); err != nil {
		return err
	}
	s.settle(c)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// settle waits a moment for the exit to be recorded, so a ps right after
// stop shows the container exited.
func (s *Server) settle(c *lifecycle.Container) {
	for i := 0; i < 100 && !c.Exited(); i++ {
		if _, err := os.Stat(c.Dir); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// containerRestart is stop (when it runs), then start: the same
// container, its layers, cgroup and network kept, its program run again.
func (s *Server) containerRestart(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	timeout := 10
	if t := r.URL.Query().Get("t"); t != "" {
		if timeout, err = strconv.Atoi(t); err != nil {
			return errf(http.StatusBadRequest, "invalid t=%q: a number of seconds", t)
		}
	}
	if c.PID() != 0 {
		s.log.Step("kill(), then kill(SIGKILL) after "+strconv.Itoa(timeout)+"s", "ctr-run stop -t "+strconv.Itoa(timeout)+" "+c.ID)
		if err := c.Stop(stopSignal(s.config(c)), time.Duration(timeout)*time.Second); err != nil {
			return err
		}
		s.settle(c)
	}
	return s.containerStart(w, r)
}

func (s *Server) containerKill(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	sig := syscall.SIGKILL
	if name := r.URL.Query().Get("signal"); name != "" {
		if sig, err = signame.Parse(name); err != nil {
			return errf(http.StatusBadRequest, "%v", err)
		}
	}
	if c.PID() == 0 {
		return errf(http.StatusConflict, "container %s is not running", c.Name)
	}
	s.log.Step("kill("+strconv.Itoa(c.PID())+", "+strconv.Itoa(int(sig))+")", "ctr-run kill -s "+strconv.Itoa(int(sig))+" "+c.ID)
	if err := c.Signal(sig); err != nil {
		return err
	}
	if sig == syscall.SIGKILL {
		s.settle(c)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) containerRemove(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	force := boolParam(r, "force")
	if c.PID() != 0 {
		if !force {
			return errf(http.StatusConflict, "you cannot remove a running container %s: stop it first (docker stop %s) or use docker rm -f", c.ID, c.Name)
		}
		s.mu.Lock()
		se := s.sessions[c.ID]
		s.mu.Unlock()
		if se != nil { // ours: its session records the exit
			c.Signal(syscall.SIGKILL)
			select {
			case <-se.done:
			case <-time.After(10 * time.Second):
			}
		}
	}
	unlock := s.lock(c.ID)
	defer unlock()
	if _, err := os.Stat(c.Dir); errors.Is(err, os.ErrNotExist) {
		w.WriteHeader(http.StatusNoContent) // --rm got there first
		return nil
	}
	s.mu.Lock()
	for _, a := range s.pending[c.ID] {
		a.close()
	}
	delete(s.pending, c.ID)
	s.mu.Unlock()
	s.log.Step("", "ctr-run rm -f "+c.ID)
	var stderr bytes.Buffer
	if err := c.Remove(s.env(), io.MultiWriter(&stderr, s.Stderr), force); err != nil {
		return errf(http.StatusInternalServerError, "%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	s.forgetExecs(c.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) networkList(w http.ResponseWriter, r *http.Request) error {
	out := []map[string]any{}
	for _, n := range []string{"bridge", "host", "none"} {
		out = append(out, map[string]any{"Name": n, "Id": n, "Driver": map[string]string{"bridge": "bridge", "host": "host", "none": "null"}[n],
			"Scope": "local", "Created": s.started.UTC().Format(time.RFC3339Nano), "Labels": map[string]string{}, "Options": map[string]string{}})
	}
	return writeJSON(w, http.StatusOK, out)
}

// containerPause is POST /containers/ID/pause and /unpause: the cgroup
// freezer, through cg-limit freeze and thaw (what docker pause asks runc
// to do).
func (s *Server) containerPause(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	if c.PID() == 0 {
		return errf(http.StatusConflict, "container %s is not running", c.Name)
	}
	verb := "freeze"
	if strings.HasSuffix(r.URL.Path, "/unpause") {
		verb = "thaw"
	}
	if _, err := s.run("cg-limit", verb, c.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// paused reads the freezer's state, as cg-limit stats reports it.
func (s *Server) paused(c *lifecycle.Container) bool {
	out, err := s.run("cg-limit", "stats", "--format", "json", c.ID)
	if err != nil {
		return false
	}
	var st struct{ Frozen bool }
	json.Unmarshal(out, &st)
	return st.Frozen
}
