package engine

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/explain"
	"ctrkit/internal/fsutil"
	"ctrkit/internal/ident"
)

// find returns the container named by the request's {id}: a name, an id
// or a unique id prefix, as ctr-run takes them; a leading "/" is dropped.
func (s *Server) find(r *http.Request) (*lifecycle.Container, error) {
	ref := strings.TrimPrefix(r.PathValue("id"), "/")
	c, err := lifecycle.Find(s.State, ref)
	if err != nil {
		if strings.Contains(err.Error(), "matches") {
			return nil, errf(http.StatusBadRequest, "%v", err)
		}
		return nil, errf(http.StatusNotFound, "no such container: %s (docker ps -a lists them)", ref)
	}
	return c, nil
}

// config is the create request a container was made with (engine.json in
// its state directory); for one ctr-run made, what its meta tells.
func (s *Server) config(c *lifecycle.Container) *containerConfig {
	cfg := &containerConfig{}
	if data, err := os.ReadFile(c.Path("engine.json")); err == nil && json.Unmarshal(data, cfg) == nil {
		return cfg
	}
	cfg.Image, cfg.Cmd, cfg.HostConfig.AutoRemove = c.Image, c.Command, c.Rm
	args := c.NsEnter
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[:i]
	}
	cfg.Tty, cfg.OpenStdin = slices.Contains(args, "-t"), slices.Contains(args, "-i")
	return cfg
}

func (s *Server) containerCreate(w http.ResponseWriter, r *http.Request) error {
	name := strings.TrimPrefix(r.URL.Query().Get("name"), "/")
	if name != "" && (len(name) < 2 || !ident.Valid(name, 0)) {
		return errf(http.StatusBadRequest, "invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name)
	}
	var cfg containerConfig
	if err := readJSON(r, &cfg); err != nil {
		return err
	}
	if _, err := s.image(cfg.Image); err != nil && cfg.Image != "" {
		return err // a 404 makes docker run pull it, then create again
	}
	o, err := cfg.options(name)
	if err != nil {
		return err
	}
	if name != "" {
		if other, err := lifecycle.Find(s.State, name); err == nil && other.Name == name {
			return errf(http.StatusConflict, "conflict: the container name \"/%s\" is already in use by container %s: remove it (docker rm %s) or choose another --name", name, other.ID, name)
		}
	}
	var stderr bytes.Buffer
	c, err := lifecycle.Create(s.State, o, s.env(), io.MultiWriter(&stderr, s.Stderr))
	if err != nil {
		if strings.Contains(err.Error(), "already in use") {
			return errf(http.StatusConflict, "conflict: %v", err)
		}
		return errf(http.StatusInternalServerError, "%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	s.log.Note("container %s created: the pipeline's document is %s", c.ID, c.Path("config.json"))
	data, _ := json.Marshal(cfg)
	if err := fsutil.WriteFile(c.Path("engine.json"), data, 0o600); err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"Id": c.ID, "Warnings": []string{}})
}

// state is the container's state in docker's words, and when it started
// and finished (the times its pid and exit files were written).
func state(c *lifecycle.Container) (status string, started, finished time.Time) {
	if fi, err := os.Stat(c.Path("pid")); err == nil {
		started = fi.ModTime()
	}
	if fi, err := os.Stat(c.Path("exit")); err == nil {
		finished = fi.ModTime()
	}
	switch {
	case c.PID() != 0:
		return "running", started, finished
	case c.Exited() || !started.IsZero():
		return "exited", started, finished
	}
	return "created", started, finished
}

func ago(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Second:
		return "Less than a second"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + " seconds"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " minutes"
	}
	return strconv.Itoa(int(d.Hours())) + " hours"
}

// filters reads ?filters={"name":["web"]} (or {"name":{"web":true}}).
func filters(r *http.Request) (map[string][]string, error) {
	out := map[string][]string{}
	raw := r.URL.Query().Get("filters")
	if raw == "" {
		return out, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, errf(http.StatusBadRequest, "invalid filters %q: %v", raw, err)
	}
	for k, v := range m {
		var list []string
		if json.Unmarshal(v, &list) != nil {
			var set map[string]bool
			if err := json.Unmarshal(v, &set); err != nil {
				return nil, errf(http.StatusBadRequest, "invalid filter %q: %v", k, err)
			}
			for x := range set {
				list = append(list, x)
			}
		}
		out[k] = list
	}
	return out, nil
}

func (s *Server) containerList(w http.ResponseWriter, r *http.Request) error {
	f, err := filters(r)
	if err != nil {
		return err
	}
	cs, err := lifecycle.List(s.State)
	if err != nil {
		return err
	}
	out := []map[string]any{}
	for i := len(cs) - 1; i >= 0; i-- { // newest first, as docker ps
		c := cs[i]
		st, started, finished := state(c)
		if !boolParam(r, "all") && st != "running" && len(f["status"]) == 0 {
			continue
		}
		if !match(f["name"], c.Name) || !match(f["id"], c.ID) || (len(f["status"]) > 0 && !slices.Contains(f["status"], st)) {
			continue
		}
		cfg := s.config(c)
		status := "Created"
		switch st {
		case "running":
			status = "Up " + ago(started)
		case "exited":
			status = "Exited (" + strconv.Itoa(c.ExitCode()) + ") " + ago(finished) + " ago"
		}
		labels := cfg.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		out = append(out, map[string]any{
			"Id": c.ID, "Names": []string{"/" + c.Name}, "Image": c.Image, "ImageID": "",
			"Command": explain.Join(c.Command), "Created": c.Created.Unix(), "Ports": cfg.ports(),
			"Labels": labels, "State": st, "Status": status, "Mounts": []any{},
			"HostConfig":      map[string]string{"NetworkMode": network(cfg)},
			"NetworkSettings": map[string]any{"Networks": map[string]any{}},
		})
	}
	return writeJSON(w, http.StatusOK, out)
}

// match: no filter, or value contains one of them (docker's name and id
// filters match substrings).
func match(want []string, value string) bool {
	if len(want) == 0 {
		return true
	}
	for _, x := range want {
		if strings.Contains(value, strings.TrimPrefix(x, "/")) {
			return true
		}
	}
	return false
}

func network(cfg *containerConfig) string {
	if m := cfg.HostConfig.NetworkMode; m != "" && m != "default" {
		return m
	}
	return "bridge"
}

func (s *Server) containerInspect(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	cfg := s.config(c)
	st, started, finished := state(c)
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return "0001-01-01T00:00:00Z"
		}
		return t.UTC().Format(time.RFC3339Nano)
	}
	path, args := "", c.Command
	if len(args) > 0 {
		path, args = args[0], args[1:]
	}
	ports := map[string][]portBinding{}
	for p, bs := range cfg.HostConfig.PortBindings {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		for _, b := range bs {
			if b.HostIp == "" {
				b.HostIp = "0.0.0.0"
			}
			ports[p] = append(ports[p], b)
		}
	}
	hc := cfg.HostConfig
	hc.NetworkMode = network(cfg)
	paused := st == "running" && s.paused(c)
	if paused {
		st = "paused"
	}
	hc.LogConfig.Type, hc.LogConfig.Config = "json-file", map[string]string{} // a file all the same: STATE/ID/log
	return writeJSON(w, http.StatusOK, map[string]any{
		"Id": c.ID, "Created": c.Created.UTC().Format(time.RFC3339Nano), "Path": path, "Args": args,
		"State": map[string]any{"Status": st, "Running": st == "running" || paused, "Paused": paused, "Restarting": false,
			"OOMKilled": false, "Dead": false, "Pid": c.PID(), "ExitCode": c.ExitCode(), "Error": "",
			"StartedAt": stamp(started), "FinishedAt": stamp(finished)},
		"Image": c.Image, "Name": "/" + c.Name, "RestartCount": 0, "Driver": "overlay", "Platform": "linux",
		"ResolvConfPath": "", "HostnamePath": "", "HostsPath": "", "LogPath": c.Path("log"),
		"MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
		"HostConfig": hc,
		"Config": map[string]any{"Hostname": c.ID, "User": cfg.User, "Env": cfg.Env, "Cmd": c.Command, "Image": c.Image,
			"WorkingDir": cfg.WorkingDir, "Entrypoint": cfg.Entrypoint, "Tty": cfg.Tty, "OpenStdin": cfg.OpenStdin,
			"StdinOnce": cfg.StdinOnce, "AttachStdin": cfg.AttachStdin, "AttachStdout": cfg.AttachStdout,
			"AttachStderr": cfg.AttachStderr, "Labels": cfg.Labels, "ExposedPorts": cfg.ExposedPorts},
		"NetworkSettings": map[string]any{"Ports": ports, "Networks": map[string]any{}},
		"Mounts":          []any{},
		"Ctrkit":          map[string]any{"StateDir": c.Dir, "NsEnter": c.NsEnter},
	})
}

func (s *Server) containerStart(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	unlock := s.lock(c.ID)
	defer unlock()
	switch st, _, _ := state(c); st {
	case "running":
		w.WriteHeader(http.StatusNotModified)
		return nil
	case "exited":
		// docker start of an exited container runs it again.
		if err := c.Rewind(); err != nil {
			return err
		}
	}
	cfg := s.config(c)
	s.mu.Lock()
	atts := s.pending[c.ID]
	delete(s.pending, c.ID)
	s.mu.Unlock()
	if len(atts) == 0 && !cfg.OpenStdin && !cfg.Tty {
		// Nobody listens: the supervisor keeps it, as for ctr-run -d.
		s.log.Step("fork(); setsid(); execve(\"ctr-run-supervise\")", "ctr-run-supervise "+c.ID+" >>"+explain.Quote(c.Path("log"))+" 2>&1 &")
		if err := c.Detach(s.Self, []string{"supervise", c.ID}, s.runEnv(), s.Stderr); err != nil && !c.Exited() {
			return err
		}
	} else if err := s.startSession(c, cfg, atts); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// containerWait answers when the container has exited (condition
// not-running or next-exit) or is gone (removed, docker run --rm). The
// headers go at once: the client knows the wait is in place.
func (s *Server) containerWait(w http.ResponseWriter, r *http.Request) error {
	c, err := s.find(r)
	if err != nil {
		return err
	}
	cond := r.URL.Query().Get("condition")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	code := -1
	if st, _, _ := state(c); (cond == "" || cond == "not-running") && st == "created" {
		return json.NewEncoder(w).Encode(map[string]any{"StatusCode": 0, "Error": nil}) // not running: at once
	}
	// Woken when a file is finished in its state directory (its exit) or
	// the directory goes (removed); every 250 ms besides, or every 20 ms
	// without inotify.
	changed, stop := c.Changes()
	defer stop()
	every := 250 * time.Millisecond
	if changed == nil {
		every = 20 * time.Millisecond
	}
	for {
		if _, err := os.Stat(c.Dir); err != nil {
			break // removed
		}
		if c.Exited() {
			code = c.ExitCode()
			if cond != "removed" {
				break
			}
			// A --rm removal that failed: say why instead of waiting
			// for a removal that will not come (dockerd does the same).
			s.mu.Lock()
			rmErr := s.rmErrs[c.ID]
			s.mu.Unlock()
			if rmErr != nil {
				return json.NewEncoder(w).Encode(map[string]any{"StatusCode": code, "Error": map[string]string{"Message": "--rm: " + rmErr.Error()}})
			}
		}
		select {
		case <-r.Context().Done():
			return nil
		case <-changed:
		case <-time.After(every):
		}
	}
	if code < 0 {
		s.mu.Lock()
		code = s.exits[c.ID]
		s.mu.Unlock()
	}
	return json.NewEncoder(w).Encode(map[string]any{"StatusCode": code, "Error": nil})
}
