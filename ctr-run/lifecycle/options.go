package lifecycle

import (
	"io"
	"os"
	"path/filepath"

	"ctrkit/internal/imagespec"
	"ctrkit/internal/spec"
)

// Options are docker run's flags, as ctr-run takes them.
type Options struct {
	Name, Image string
	Pull        string // always, missing (the default) or never, as img-pull takes it
	Cmd         []string
	Entrypoint  *string // --entrypoint: replaces the image's, and its CMD
	Rm          bool
	Interactive bool
	TTY         bool
	Init        bool
	ReadOnly    bool
	Env         []string // KEY=VALUE, --env-file lines already included
	Workdir     string
	User        string
	Hostname    string
	Network     string // bridge, host, none, macvlan or a network's name: net-bridge attach --network
	Parent      string // --network macvlan: the parent interface
	Publish     []string
	Volume      []string
	Tmpfs       []string
	Limits      []string // cg-limit flags, e.g. "--memory=64m"
	Privileged  bool     // --privileged: every capability and device, no seccomp
	Seccomp     string   // --security-opt seccomp=: "unconfined" or an absolute profile path
	Restart     string   // --restart: no, on-failure[:N], always, unless-stopped
	Log         LogOpts  // --log-opt max-size, max-file
	// HostCgroupns keeps the host's cgroup namespace (--cgroupns host).
	HostCgroupns bool
	// UsernsMap is the id map of --userns ("" without): fs-layer idmaps
	// the layers, ns-enter makes the user namespace.
	UsernsMap string
	// Hold keeps the stages that made something running, each holding it,
	// until Remove (Pipeline.RunHolding): ctr-run --rm in the foreground,
	// where this process removes the container once it ends.
	Hold bool
}

// Pipeline is the chain of stages that prepares container id.
func (o Options) Pipeline(id string) Pipeline {
	seed := seedDoc(map[string]string{spec.IDAnnotation: id}) // doc.go
	fs := Stage{Command: "fs-layer", Args: []string{"mount", "--name", id}, Rm: []string{"fs-layer", "rm", id}}
	for _, v := range o.Volume {
		fs.Args = append(fs.Args, "-v", v)
	}
	for _, t := range o.Tmpfs {
		fs.Args = append(fs.Args, "--tmpfs", t)
	}
	if o.ReadOnly {
		fs.Args = append(fs.Args, "--read-only")
	}
	if o.UsernsMap != "" {
		fs.Args = append(fs.Args, "--userns", o.UsernsMap)
	}
	cg := Stage{Command: "cg-limit", Args: append([]string{"--name", id}, o.Limits...), Rm: []string{"cg-limit", "rm", id}, Sequential: true}
	if o.Privileged {
		cg.Args = append(cg.Args, "--privileged")
	}
	net := Stage{Command: "net-bridge", Args: []string{"attach", "--id", id}, Rm: []string{"net-bridge", "detach", id}, Sequential: true}
	if o.Network != "" {
		net.Args = append(net.Args, "--network", o.Network)
	}
	if o.Parent != "" {
		net.Args = append(net.Args, "--parent", o.Parent)
	}
	for _, p := range o.Publish {
		net.Args = append(net.Args, "-p", p)
	}
	policy := o.Pull
	if policy == "" {
		policy = "missing"
	}
	pull := Stage{Command: "img-pull", Args: []string{"--pull", policy, o.Image}}
	return Pipeline{Seed: seed, Stages: []Stage{pull, fs, cg, net}}
}

// NsEnter is the last stage: ns-enter running the document in new pid,
// IPC, UTS and cgroup namespaces (the mount namespace comes with root.path,
// the network one from net-bridge, the user namespace and its id maps from
// fs-layer --userns), with docker run's process flags.
// entrypoint is the image's ENTRYPOINT, which docker puts before a CMD
// given on the command line.
func (o Options) NsEnter(c *Container, entrypoint []string) Stage {
	host := o.Hostname
	if host == "" {
		host = c.ID
	}
	args := []string{"--spec", c.Path("config.json"), "--pid", "--ipc", "--uts", "--hostname", host,
		"--pid-file", c.Path("pid")}
	for _, e := range o.Env {
		args = append(args, "-e", e)
	}
	if o.Workdir != "" {
		args = append(args, "-w", o.Workdir)
	}
	if o.User != "" {
		args = append(args, "-u", o.User)
	}
	for _, f := range []struct {
		on   bool
		flag string
	}{{o.Interactive, "-i"}, {o.TTY, "-t"}, {o.Init, "--init"}, {o.Privileged, "--privileged"}} {
		if f.on {
			args = append(args, f.flag)
		}
	}
	if o.Seccomp != "" {
		args = append(args, "--seccomp", o.Seccomp)
	}
	if !o.HostCgroupns {
		args = append(args, "--cgroup")
	}
	if cmd := imagespec.Command(entrypoint, o.Entrypoint, o.Cmd); len(cmd) > 0 {
		args = append(append(args, "--"), cmd...)
	}
	return Stage{Command: "ns-enter", Args: args}
}

// ImageEntrypoint asks the store under root, through img-pull and without
// any registry, for image's ENTRYPOINT: what --dry-run needs to print the
// command ns-enter will run. Nil when the store or the image is missing
// (and a dry run creates no store).
func ImageEntrypoint(root, image string, env []string) []string {
	if _, err := os.Stat(filepath.Join(root, "oci", "index.json")); err != nil {
		return nil
	}
	st := Stage{Command: "img-pull", Args: []string{"--pull", "never", "--print", "spec", "-q", image}}
	// An image not in the store yet is no error here (the run pulls it):
	// img-pull's message about it goes nowhere.
	doc, err := Pipeline{Seed: seedDoc(nil), Stages: []Stage{st}}.Run(env, io.Discard)
	if err != nil {
		return nil
	}
	h, err := readHead(doc)
	if err != nil {
		return nil
	}
	return h.entrypoint()
}
