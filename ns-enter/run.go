package main

// ns-enter run (the default verb): where the spec comes from (input) and
// running it.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	"ctrkit/ns-enter/container"
	"ctrkit/ns-enter/seccomp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// input is where a command's base spec comes from: --bundle, --spec or
// stdin.
type input struct {
	Bundle   string `help:"Run DIR/config.json, with root.path relative to DIR, like runc run --bundle." type:"path" placeholder:"DIR"`
	SpecFile string `name:"spec" help:"Read the spec from FILE (\"-\": stdin; \"none\": do not read stdin even when it is a pipe)." placeholder:"FILE"`
}

// load reads the base spec; fromStdin says whether stdin carried it.
func (in *input) load() (s *specs.Spec, fromStdin bool, err error) {
	switch {
	case in.Bundle != "":
		f, err := os.Open(filepath.Join(in.Bundle, "config.json"))
		if err != nil {
			return nil, false, fmt.Errorf("--bundle: %w", err)
		}
		defer f.Close()
		s, err := spec.Read(f)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", f.Name(), err)
		}
		return s, false, nil
	case in.SpecFile == "none":
		return nil, false, nil
	case in.SpecFile == "-":
		s, err := spec.Read(os.Stdin)
		return s, true, err
	case in.SpecFile != "":
		data, err := os.ReadFile(in.SpecFile)
		if err != nil {
			return nil, false, fmt.Errorf("--spec: %w", err)
		}
		s, err := spec.Parse(data)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", in.SpecFile, err)
		}
		return s, false, nil
	}
	s, err = spec.FromPipe(os.Stdin)
	if errors.Is(err, spec.ErrNotJSON) {
		return nil, false, fmt.Errorf("stdin: %w (stdin is a pipe, so ns-enter reads a runtime spec from it; to give the command input instead, add --spec none)", err)
	}
	if errors.Is(err, spec.ErrEmptyPipe) { // not run on the host's root instead
		return nil, false, fmt.Errorf("stdin: %w; nothing was run (to run a command without a spec with a pipe on stdin, add --spec none)", err)
	}
	if err != nil {
		return nil, false, fmt.Errorf("stdin: %w", err)
	}
	return s, s != nil, nil
}

type RunCmd struct {
	specFlags
	input
	Interactive  bool   `short:"i" help:"Keep the command's stdin attached; when stdin carried the spec, read the keyboard from /dev/tty."`
	Init         bool   `help:"Run a tiny init as PID 1 that reaps zombies and forwards signals, like docker --init."`
	PIDFile      string `name:"pid-file" help:"Write the container's PID (as the host sees it) to FILE once it runs, like runc --pid-file." placeholder:"FILE"`
	PreserveFDs  int    `name:"preserve-fds" help:"Pass descriptors 3…3+N-1 on to the command, like runc --preserve-fds; every other descriptor above 2 is closed (systemd's LISTEN_FDS sockets are passed too, before them)." placeholder:"N"`
	NoNewKeyring bool   `name:"no-new-keyring" help:"Keep the caller's session keyring instead of giving the container a new one, like runc --no-new-keyring."`
	Detach       bool   `short:"d" help:"Exit 0 once the container's process runs, leaving it to the caller, who must be its subreaper (prctl PR_SET_CHILD_SUBREAPER) to reap it: what ctr-run -d's supervisor does, as runc run -d under a shim. Not with -t (detach.go)."`
}

func (c *RunCmd) Help() string {
	return `Without a spec, ns-enter works like unshare(1): the command runs in new
namespaces of the kinds given, with your environment and working directory.
That takes stdin from a terminal or /dev/null, or --spec none: an empty
pipe is a stage before that failed, and ns-enter stops there.
With --target PID it works like nsenter(1) and joins PID's namespaces, the
mount and user namespaces included (see docs/01-namespaces.md for why that
needs code that runs before the Go runtime).

With a spec on stdin, --spec or --bundle it works like runc run, and the
flags add to the spec. The exit status is the command's (128+N if signal N
killed it); 125 means ns-enter failed, 126 the command could not be
executed, 127 it was not found.`
}

func (c *RunCmd) Run(g *cli.Globals) error {
	if os.Geteuid() != 0 {
		return &cli.ExitError{Code: 125, Err: errors.New("making or joining namespaces needs root (CAP_SYS_ADMIN): run it with sudo")}
	}
	base, fromStdin, err := c.load()
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	s, err := c.build(base)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	stdin := os.Stdin
	if fromStdin {
		stdin = nil // used up by the spec
		if c.Interactive || c.TTY {
			if stdin, err = os.OpenFile("/dev/tty", os.O_RDWR, 0); err != nil {
				return &cli.ExitError{Code: 125, Err: fmt.Errorf("-i/-t: stdin carried the spec and there is no terminal to read the keyboard from: %w", err)}
			}
			defer stdin.Close()
		}
	}
	if c.PreserveFDs < 0 {
		return &cli.ExitError{Code: 125, Err: fmt.Errorf("--preserve-fds %d: want a count, 0 or more", c.PreserveFDs)}
	}
	listen := container.ListenFDs()
	if listen > 0 { // systemd socket activation, passed on as runc does
		s.Process.Env = append(s.Process.Env, "LISTEN_FDS="+strconv.Itoa(listen), "LISTEN_PID=1")
	}
	bundle := c.Bundle
	if bundle == "" {
		bundle, _ = os.Getwd()
	}
	// Explain lines go to stderr, or where CTRKIT_EXPLAIN_FD says until
	// the container runs (ctr-run -d: its stderr is the container's log).
	var explainOut io.Writer = os.Stderr
	explainTo := explain.FD()
	if explainTo != nil {
		explainOut = explainTo
	}
	// A root without a mount namespace: its mounts go into ours, and are
	// undone when the container ends (container/callermounts.go).
	mounts, err := container.Snapshot(s, bundle)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	if mounts != nil && c.Detach {
		return &cli.ExitError{Code: 125, Err: errors.New("--detach with a spec that has no mount namespace: its mounts are in ours and nobody would undo them when it ends; add a mount namespace, or run it in the foreground")}
	}
	defer func() { container.Unmount(g.Log("ns-enter", explainOut), mounts.Made()) }()
	status, err := runOrDetach(s, container.Options{ // detach.go
		Bundle: bundle, Detach: c.Detach, Stdin: stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Init: c.Init, PIDFile: c.PIDFile, PassFDs: listen + c.PreserveFDs, NoNewKeyring: c.NoNewKeyring, Explain: g.Explain,
		Log: g.Log("ns-enter", explainOut), ExplainTo: explainTo, SeccompCache: seccomp.CacheDir(g.Root),
	})
	if err != nil {
		return &cli.ExitError{Code: status, Err: err}
	}
	if status != 0 {
		return &cli.ExitError{Code: status}
	}
	return nil
}
