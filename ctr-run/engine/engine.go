// Package engine is ctr-run serve: a daemon that answers the Docker Engine
// API on a Unix socket, so the real docker command and docker-py drive
// ctrkit unchanged (DOCKER_HOST=unix:///run/ctrkit/docker.sock).
//
// # Why a daemon at all
//
// docker is a client: every `docker run` is a few HTTP requests to dockerd,
// which does the work and keeps the containers alive after the client has
// gone. ctrkit needs no daemon (ctr-run runs the pipeline itself and a small
// supervisor keeps detached containers), so this package shows what a daemon
// is by being one: a program answering HTTP on a socket. Each request maps
// onto what already exists, never a second implementation:
//
//	POST /containers/create     lifecycle.Create: the img-pull | fs-layer |
//	                            cg-limit | net-bridge pipeline
//	POST /containers/ID/start   ns-enter, run here when a client attached
//	                            (its output is copied to the client), else
//	                            `ctr-run supervise ID` as ctr-run -d does
//	POST /containers/ID/wait    polls STATE/ID/exit, as ctr-run does
//	POST /containers/ID/stop, kill, DELETE /containers/ID, exec, logs:
//	                            the lifecycle calls ctr-run stop/kill/rm/… make
//	POST /images/create         img-pull; DELETE /images/NAME img-pull rm
//
// so a container made through the API is the same container ctr-run ps
// lists, and the other way round.
//
// # Hijacking
//
// attach and exec start answer with 101 UPGRADED and then stop speaking
// HTTP: the connection becomes a raw byte pipe (Go's http.Hijacker hands us
// the socket). Without a terminal, stdout and stderr share that pipe as
// frames, an 8-byte header (stream 1 or 2, three zero bytes, a big-endian
// length) before each chunk; with one (-t) the terminal's bytes go as they
// are, since a terminal has one output.
//
// The HTTP server is Go's net/http (its 1.22 patterns route by method and
// path); the JSON shapes are written here (types.go), a few dozen fields,
// instead of importing moby's whole API module for them.
package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"ctrkit/ctr-run/lifecycle"
	"ctrkit/internal/explain"
	"ctrkit/internal/store"
)

// The API versions served: docker 20.10 speaks up to 1.41, current clients
// negotiate down to APIVersion; older than MinAPIVersion is refused.
const (
	APIVersion    = "1.43"
	MinAPIVersion = "1.24"
	Version       = "ctrkit"
)

// Server answers the Engine API for one ctrkit root and state directory.
type Server struct {
	Root, State string
	Self        string // the ctr-run binary, for `ctr-run supervise ID`
	Stderr      io.Writer
	log         *explain.Log
	explainOn   bool

	mu       sync.Mutex
	sessions map[string]*session      // containers this process runs attached
	pending  map[string][]*attachment // attach requests waiting for start
	exits    map[string]int           // exit statuses of containers since removed (--rm)
	rmErrs   map[string]error         // why a --rm removal failed, for the waiting client
	execs    map[string]*execInstance // exec create … exec start
	locks    map[string]*sync.Mutex   // one lifecycle change at a time per container
	started  time.Time
}

// New returns a server; explainOn makes it print each request and the
// ctrkit commands it ran.
func New(root, state, self string, explainOn bool, stderr io.Writer) *Server {
	return &Server{Root: root, State: state, Self: self, Stderr: stderr, explainOn: explainOn,
		log:      explain.New("ctr-run serve", stderr, explainOn),
		sessions: map[string]*session{}, pending: map[string][]*attachment{}, exits: map[string]int{}, rmErrs: map[string]error{},
		execs: map[string]*execInstance{}, locks: map[string]*sync.Mutex{}, started: time.Now()}
}

func (s *Server) env() []string { return lifecycle.Env(s.Root, s.State, s.explainOn) }

// runEnv is the environment of ns-enter running a container or an exec:
// never in explain mode, whose lines would go into the container's output.
func (s *Server) runEnv() []string {
	var env []string
	for _, e := range lifecycle.Env(s.Root, s.State, false) {
		if !strings.HasPrefix(e, "CTRKIT_EXPLAIN=") {
			env = append(env, e)
		}
	}
	return env
}

// lock serialises start, rm and a session's end for one container.
func (s *Server) lock(id string) func() {
	s.mu.Lock()
	m := s.locks[id]
	if m == nil {
		m = &sync.Mutex{}
		s.locks[id] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// apiError is an error with the HTTP status the Engine API gives it.
type apiError struct {
	code int
	err  error
}

func (e *apiError) Error() string { return e.err.Error() }
func (e *apiError) Unwrap() error { return e.err }

func errf(code int, format string, args ...any) error {
	return &apiError{code, fmt.Errorf(format, args...)}
}

// handler is an endpoint; a returned error becomes {"message": …}.
type handler func(w http.ResponseWriter, r *http.Request) error

// Compiled on first use, not at every start of ctr-run.
var versioned = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^/v(\d+\.\d+)(/.*)$`) })

// Handler routes every endpoint, with or without the /vX.Y prefix.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h handler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			if err := h(w, r); err != nil {
				writeError(w, err)
			}
		})
	}
	route("GET /_ping", s.ping)
	route("HEAD /_ping", s.ping)
	route("GET /version", s.version)
	route("GET /info", s.info)
	route("GET /images/json", s.imageList)
	route("POST /images/create", s.imagePull)
	route("GET /images/{rest...}", s.imageGet)
	route("POST /images/{rest...}", s.imagePost)
	route("DELETE /images/{rest...}", s.imageRemove)
	route("POST /containers/create", s.containerCreate)
	route("GET /containers/json", s.containerList)
	route("GET /containers/{id}/json", s.containerInspect)
	route("POST /containers/{id}/start", s.containerStart)
	route("POST /containers/{id}/wait", s.containerWait)
	route("POST /containers/{id}/attach", s.containerAttach)
	route("POST /containers/{id}/resize", s.containerResize)
	route("POST /containers/{id}/stop", s.containerStop)
	route("POST /containers/{id}/restart", s.containerRestart)
	route("POST /containers/{id}/kill", s.containerKill)
	route("POST /containers/{id}/pause", s.containerPause)
	route("POST /containers/{id}/unpause", s.containerPause)
	route("DELETE /containers/{id}", s.containerRemove)
	route("GET /containers/{id}/logs", s.containerLogs)
	route("GET /containers/{id}/top", s.containerTop)
	route("GET /containers/{id}/stats", s.containerStats)
	route("POST /containers/{id}/exec", s.execCreate)
	route("POST /exec/{id}/start", s.execStart)
	route("POST /exec/{id}/resize", s.execResize)
	route("GET /exec/{id}/json", s.execInspect)
	route("POST /build", s.imageBuild)
	route("GET /networks", s.networkList)
	route("GET /volumes", s.volumeList)
	route("POST /volumes/create", s.volumeCreate)
	route("DELETE /volumes/{name}", s.volumeRemove)
	route("/", func(w http.ResponseWriter, r *http.Request) error {
		return errf(http.StatusNotFound, "page not found: %s %s is not an endpoint ctrkit serves (docs/10-daemon.md lists them)", r.Method, r.URL.Path)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.log.Step("read(): "+r.Method+" "+r.URL.RequestURI(), "")
		w.Header().Set("Api-Version", APIVersion)
		w.Header().Set("Server", "ctrkit/"+Version)
		if m := versioned().FindStringSubmatch(r.URL.Path); m != nil {
			if apiLess(APIVersion, m[1]) {
				writeError(w, errf(http.StatusBadRequest, "client version %s is too new: the maximum supported API version is %s (set DOCKER_API_VERSION=%s)", m[1], APIVersion, APIVersion))
				return
			}
			if apiLess(m[1], MinAPIVersion) {
				writeError(w, errf(http.StatusBadRequest, "client version %s is too old: the minimum supported API version is %s", m[1], MinAPIVersion))
				return
			}
			r.URL.Path, r.URL.RawPath = m[2], ""
			r.Header.Set("X-Api-Version", m[1])
		}
		mux.ServeHTTP(w, r)
	})
}

// apiLess compares two API versions, "1.9" < "1.41".
func apiLess(a, b string) bool {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	x, _ := strconv.Atoi(am)
	y, _ := strconv.Atoi(bm)
	if x != y {
		return x < y
	}
	x, _ = strconv.Atoi(an)
	y, _ = strconv.Atoi(bn)
	return x < y
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var ae *apiError
	if errors.As(err, &ae) {
		code = ae.code
	}
	writeJSON(w, code, map[string]string{"message": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	return json.NewEncoder(w).Encode(v)
}

// readJSON decodes a request body into v; a malformed one is a 400 that
// names what was wrong.
func readJSON(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errf(http.StatusBadRequest, "invalid JSON: field %q must be %s, not a JSON %s", te.Field, te.Type, te.Value)
		}
		return errf(http.StatusBadRequest, "invalid JSON in the request body: %v", err)
	}
	return nil
}

func boolParam(r *http.Request, name string) bool {
	v := r.URL.Query().Get(name)
	return v == "1" || v == "true" || v == "True"
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Docker-Experimental", "false")
	h.Set("Ostype", "linux")
	h.Set("Builder-Version", "1")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		return nil
	}
	_, err := io.WriteString(w, "OK")
	return err
}

func kernel() string {
	data, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(data))
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	v := map[string]any{
		"Platform": map[string]string{"Name": "ctrkit (ctr-run serve)"},
		"Components": []map[string]any{{"Name": "Engine", "Version": Version, "Details": map[string]string{
			"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": "linux", "Arch": runtime.GOARCH, "GoVersion": runtime.Version(),
			"GitCommit": "ctrkit", "KernelVersion": kernel(), "BuildTime": s.started.UTC().Format(time.RFC3339), "Experimental": "false"}}},
		"Version": Version, "ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion,
		"GitCommit": "ctrkit", "GoVersion": runtime.Version(), "Os": "linux", "Arch": runtime.GOARCH,
		"KernelVersion": kernel(), "BuildTime": s.started.UTC().Format(time.RFC3339),
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	cs, err := lifecycle.List(s.State)
	if err != nil {
		return err
	}
	running, stopped := 0, 0
	for _, c := range cs {
		if c.PID() != 0 {
			running++
		} else {
			stopped++
		}
	}
	images := 0
	if st, err := store.Open(s.Root); err == nil {
		es, _ := st.List()
		images = len(es)
	}
	host, _ := os.Hostname()
	cgroup := "1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cgroup = "2"
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"ID": "ctrkit", "Containers": len(cs), "ContainersRunning": running, "ContainersPaused": 0,
		"ContainersStopped": stopped, "Images": images, "Driver": "overlay (fs-layer)",
		"DriverStatus": [][2]string{{"Root", s.Root}}, "Plugins": map[string]any{"Volume": []string{"local"}, "Network": []string{"bridge", "host", "none"}},
		"MemoryLimit": true, "SwapLimit": true, "CpuShares": true, "CPUSet": true, "OomKillDisable": true,
		"IPv4Forwarding": true, "BridgeNfIptables": true, "BridgeNfIp6tables": true, "CpuCfsPeriod": true, "CpuCfsQuota": true, "PidsLimit": true,
		"NCPU": runtime.NumCPU(), "Name": host, "ServerVersion": Version, "OperatingSystem": "ctrkit",
		"OSType": "linux", "Architecture": runtime.GOARCH, "KernelVersion": kernel(), "DockerRootDir": s.Root,
		"CgroupDriver": "cgroupfs", "CgroupVersion": cgroup, "LoggingDriver": "json-file",
		"DefaultRuntime": "ns-enter", "Runtimes": map[string]any{"ns-enter": map[string]string{"path": lifecycle.Bin("ns-enter")}},
		"SecurityOptions": []string{"name=seccomp,profile=default"}, "Swarm": map[string]any{"LocalNodeState": "inactive"},
		"RegistryConfig": map[string]any{"IndexConfigs": map[string]any{}, "InsecureRegistryCIDRs": []string{"127.0.0.0/8"}, "Mirrors": []string{}},
		"Labels":         []string{}, "Warnings": []string{},
	})
}

// Close kills the containers this process runs attached (their clients
// are gone with the daemon) and waits until their exits are recorded.
func (s *Server) Close() {
	s.mu.Lock()
	var sessions []*session
	for id, se := range s.sessions {
		if c, err := lifecycle.Find(s.State, id); err == nil {
			c.Signal(syscall.SIGKILL)
		}
		sessions = append(sessions, se)
	}
	s.mu.Unlock()
	for _, se := range sessions {
		select {
		case <-se.done:
		case <-time.After(10 * time.Second):
		}
	}
}
