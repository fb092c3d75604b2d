package engine

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"ctrkit/ctr-run/lifecycle"
)

// The JSON shapes of the Engine API that ctrkit reads or writes: only the
// fields it uses (the rest of a request is ignored, as dockerd ignores
// fields it does not know).

// strSlice is a command: a JSON array, or a string (older clients).
type strSlice []string

func (s *strSlice) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*s = nil
		return nil
	}
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

// containerConfig is the body of POST /containers/create.
type containerConfig struct {
	Hostname     string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          strSlice
	Entrypoint   strSlice
	Image        string
	WorkingDir   string
	Labels       map[string]string
	ExposedPorts map[string]struct{}
	StopSignal   string
	HostConfig   hostConfig
}

type portBinding struct{ HostIp, HostPort string }

type hostConfig struct {
	Binds          []string
	NetworkMode    string
	PortBindings   map[string][]portBinding
	AutoRemove     bool
	Memory         int64
	MemorySwap     int64
	NanoCpus       int64
	CpuShares      int64
	PidsLimit      *int64
	Privileged     bool
	ReadonlyRootfs bool
	Tmpfs          map[string]string
	Init           *bool
	SecurityOpt    []string
	LogConfig      struct {
		Type   string
		Config map[string]string
	}
}

// options turns a create request into ctr-run's flags, the same
// lifecycle.Options `ctr-run create` makes from its command line.
func (c *containerConfig) options(name string) (lifecycle.Options, error) {
	h := c.HostConfig
	o := lifecycle.Options{
		Name: name, Image: c.Image, Pull: "missing", Cmd: c.Cmd, Rm: h.AutoRemove,
		Interactive: c.OpenStdin, TTY: c.Tty, ReadOnly: h.ReadonlyRootfs, Privileged: h.Privileged,
		Env: c.Env, Workdir: c.WorkingDir, User: c.User, Hostname: c.Hostname, Volume: h.Binds,
	}
	if c.Image == "" {
		return o, errf(http.StatusBadRequest, "field \"Image\" is empty: name the image to run")
	}
	if len(c.Entrypoint) > 0 {
		// --entrypoint '' is [""]: no entrypoint at all.
		ep := c.Entrypoint[0]
		o.Entrypoint = &ep
		o.Cmd = append(append([]string(nil), c.Entrypoint[1:]...), c.Cmd...)
	}
	if h.Init != nil {
		o.Init = *h.Init
	}
	switch h.NetworkMode {
	case "", "default", "bridge":
		o.Network = "bridge"
	case "host", "none":
		o.Network = h.NetworkMode
	default:
		return o, errf(http.StatusBadRequest, "network %s not found: ctrkit serves bridge, host and none", h.NetworkMode)
	}
	for port, bs := range h.PortBindings {
		for _, b := range bs {
			if b.HostPort == "" {
				return o, errf(http.StatusBadRequest, "publish %s: ctrkit needs a host port (-p HOSTPORT:%s)", port, port)
			}
			spec := b.HostPort + ":" + strings.TrimSuffix(port, "/tcp")
			if b.HostIp != "" {
				spec = b.HostIp + ":" + spec
			}
			o.Publish = append(o.Publish, spec)
		}
	}
	for path, opts := range h.Tmpfs {
		if opts != "" {
			return o, errf(http.StatusBadRequest, "--tmpfs %s:%s: ctrkit takes no tmpfs options", path, opts)
		}
		o.Tmpfs = append(o.Tmpfs, path)
	}
	for _, opt := range h.SecurityOpt {
		key, value, _ := strings.Cut(opt, "=")
		switch {
		case key == "seccomp" && value == "unconfined":
			o.Seccomp = value
		case key == "no-new-privileges":
		default:
			return o, errf(http.StatusBadRequest, "--security-opt %q: ctrkit serve takes seccomp=unconfined and no-new-privileges", opt)
		}
	}
	limit := func(flag string, v int64) {
		o.Limits = append(o.Limits, flag+"="+strconv.FormatInt(v, 10))
	}
	if h.Memory > 0 {
		limit("--memory", h.Memory)
	}
	if h.MemorySwap != 0 {
		limit("--memory-swap", h.MemorySwap)
	}
	if h.NanoCpus > 0 {
		o.Limits = append(o.Limits, fmt.Sprintf("--cpus=%g", float64(h.NanoCpus)/1e9))
	}
	if h.CpuShares > 0 {
		limit("--cpu-shares", h.CpuShares)
	}
	if h.PidsLimit != nil && *h.PidsLimit > 0 {
		limit("--pids-limit", *h.PidsLimit)
	}
	return o, nil
}

type imageSummary struct {
	ID          string `json:"Id"`
	ParentID    string `json:"ParentId"`
	RepoTags    []string
	RepoDigests []string
	Created     int64
	Size        int64
	VirtualSize int64
	SharedSize  int64
	Labels      map[string]string
	Containers  int64
}

type port struct {
	IP          string `json:"IP,omitempty"`
	PrivatePort int
	PublicPort  int `json:",omitempty"`
	Type        string
}

// ports are the published ports of a container, as docker ps shows them.
func (c *containerConfig) ports() []port {
	out := []port{}
	for p, bs := range c.HostConfig.PortBindings {
		num, proto, _ := strings.Cut(p, "/")
		if proto == "" {
			proto = "tcp"
		}
		priv, _ := strconv.Atoi(num)
		for _, b := range bs {
			pub, _ := strconv.Atoi(b.HostPort)
			ip := b.HostIp
			if ip == "" {
				ip = "0.0.0.0"
			}
			out = append(out, port{IP: ip, PrivatePort: priv, PublicPort: pub, Type: proto})
		}
	}
	return out
}
