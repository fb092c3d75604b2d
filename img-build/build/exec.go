package build

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/internal/hold"
	"ctrkit/internal/imagespec"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Executor runs ctrkit's other commands as processes, the way a shell
// would: img-build never imports them.
type Executor struct {
	Bin func(name string) string // where a sibling command is
	Env []string                 // their environment (CTRKIT_ROOT, CTRKIT_STATE …)
	Out io.Writer                // their stderr, and RUN's output
	Log *explain.Log
	// Record, when set, notes a resource in the build's lease before it
	// is made ("container:ID" for a RUN's fs-layer container), so that
	// fs-layer gc can remove it after the build was killed.
	Record func(res ...string) error
}

func (x Executor) record(res string) error {
	if x.Record == nil {
		return nil
	}
	return x.Record(res)
}

func (x Executor) command(stdin io.Reader, name string, args ...string) *exec.Cmd {
	c := exec.Command(x.Bin(name), args...)
	c.Env, c.Stdin, c.Stderr = x.Env, stdin, x.Out
	x.Log.Step("exec "+name, explain.Join(append([]string{name}, args...)))
	return c
}

// Pull runs `img-pull --pull missing REF`.
func (x Executor) Pull(ref string) error {
	c := x.command(nil, "img-pull", "--pull", "missing", "--print", "digest", ref)
	c.Stdout = io.Discard
	if err := c.Run(); err != nil {
		return fmt.Errorf("img-pull %s: %w", ref, err)
	}
	return nil
}

// Unpack starts `fs-layer unpack IMAGE` and returns without waiting; wait
// waits for it. Its failure is only noted: the fs-layer mount after it
// unpacks whatever is still missing, and says what went wrong.
func (x Executor) Unpack(image string) (wait func()) {
	c := x.command(nil, "fs-layer", "unpack", image)
	// Its steps belong in an --explain transcript, written as they happen
	// between the build's own; a file is shared as it is, where another
	// writer would get exec's copying goroutine writing beside ours.
	c.Stdout, c.Stderr = io.Discard, io.Discard
	if f, ok := x.Out.(*os.File); ok && x.Log.Enabled() {
		c.Stderr = f
	}
	if err := c.Start(); err != nil {
		x.Log.Note("fs-layer unpack %s: %v", image, err)
		return func() {}
	}
	return sync.OnceFunc(func() {
		if err := c.Wait(); err != nil {
			x.Log.Note("fs-layer unpack %s: %v; the mount unpacks what is missing", image, err)
		}
	})
}

// Mount runs `fs-layer mount --name ID IMAGE` and returns the mount point
// and the function that removes it (`fs-layer rm ID`).
func (x Executor) Mount(image string) (string, func(), error) {
	id := "ckb-" + spec.NewID()
	if err := x.record("container:" + id); err != nil {
		return "", nil, err
	}
	c := x.command(nil, "fs-layer", "mount", "--name", id, image)
	out, err := c.Output()
	if err != nil {
		x.rm(id)
		return "", nil, fmt.Errorf("fs-layer mount %s: %w", image, err)
	}
	return strings.TrimSpace(string(out)), func() { x.rm(id) }, nil
}

func (x Executor) rm(id string) {
	c := x.command(nil, "fs-layer", "rm", "-f", id)
	c.Stdout = io.Discard
	if err := c.Run(); err != nil {
		fmt.Fprintf(x.Out, "img-build: fs-layer rm %s: %v\n", id, err)
	}
}

// RunSpec is one RUN step.
type RunSpec struct {
	Image   string   // the image so far, by a name fs-layer mount finds
	Args    []string // the command
	Env     []string
	Cwd     string
	User    string // USER: uid[:gid] or a name the image's /etc/passwd knows
	Network string // none (a network namespace with only lo) or host
	Output  string // where the layer tar (fs-layer diff) goes
	// Files are bound read-only into the container, by path: a RUN
	// heredoc's #! script at /dev/pipes/NAME. The container's /dev is a
	// tmpfs, so they never become part of the layer.
	Files map[string]string
	// Tmp is where their files are written: the store's oci.tmp, which
	// img-pull gc empties once no build runs, so a killed build's go too
	// ("": the system's temporary directory).
	Tmp string
}

// Run executes one RUN step:
//
//	… seed document … | fs-layer mount --name ID IMAGE > config.json
//	ns-enter --spec - < config.json
//	fs-layer diff ID -o layer.tar
//	fs-layer rm ID
//
// config.json is only in memory: ns-enter reads it on stdin, so a killed
// build leaves no file of it behind. fs-layer mount stays until the step is
// done (--hold 3, internal/hold), and the line "rm" on its descriptor 3
// does fs-layer rm's work: one process less per RUN (heldMount).
func (x Executor) Run(r RunSpec) error {
	id := "ckb-" + spec.NewID()
	doc := spec.Default("", r.Args)
	doc.Process.Env = r.Env
	if r.Cwd != "" {
		doc.Process.Cwd = r.Cwd
	}
	doc.Hostname = id
	doc.Annotations = map[string]string{spec.IDAnnotation: id}
	imagespec.SetUser(doc, r.User) // fs-layer resolves it
	for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace} {
		doc.Linux.Namespaces = append(doc.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
	switch r.Network {
	case "", "none":
		doc.Linux.Namespaces = append(doc.Linux.Namespaces, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	case "host":
		doc.Mounts = append(doc.Mounts, specs.Mount{Destination: "/etc/resolv.conf", Type: "bind", Source: "/etc/resolv.conf", Options: []string{"rbind", "ro"}})
	default:
		return fmt.Errorf("--network %s: want none or host", r.Network)
	}
	for dest, content := range r.Files {
		src, err := scriptFile(r.Tmp, content)
		if err != nil {
			return err
		}
		defer os.Remove(src)
		doc.Mounts = append(doc.Mounts, specs.Mount{Destination: dest, Type: "bind", Source: src, Options: []string{"bind", "ro"}})
	}
	var seed bytes.Buffer
	if err := spec.Write(&seed, doc); err != nil {
		return err
	}
	if err := x.record("container:" + id); err != nil {
		return err
	}
	mount, full, err := x.mountHeld(&seed, id, r.Image)
	defer mount.remove()
	if err != nil {
		return fmt.Errorf("fs-layer mount %s: %w", r.Image, err)
	}
	mounted, err := spec.Parse(full)
	if err != nil {
		return fmt.Errorf("fs-layer mount printed no runtime spec: %w", err)
	}
	if mounted.Root == nil || mounted.Root.Path == "" {
		return errors.New("fs-layer mount set no root.path")
	}
	// WORKDIR may name a directory no layer has yet: make it, as Docker
	// does; it becomes part of this step's layer.
	if r.Cwd != "" {
		if root, err := os.OpenRoot(mounted.Root.Path); err == nil {
			if err := root.MkdirAll(strings.TrimPrefix(r.Cwd, "/"), 0o755); err != nil {
				root.Close()
				return fmt.Errorf("WORKDIR %s: %w", r.Cwd, err)
			}
			root.Close()
		}
	}
	run := x.command(bytes.NewReader(full), "ns-enter", "--spec", "-")
	run.Stdout = x.Out
	if err := run.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() > 0 {
			return &exitcode.Error{Code: ee.ExitCode()} // a RUN command's status
		}
		return fmt.Errorf("ns-enter: %w", err)
	}
	diff := x.command(nil, "fs-layer", "diff", id, "-o", r.Output)
	if err := diff.Run(); err != nil {
		return fmt.Errorf("fs-layer diff %s: %w", id, err)
	}
	return nil
}

// heldMount is a RUN step's container: fs-layer mount started with
// --hold 3, which stays after printing the spec until remove says "rm".
type heldMount struct {
	x    Executor
	id   string
	cmd  *exec.Cmd    // nil once it has ended
	hold *hold.Caller // its --hold 3
}

// mountHeld runs fs-layer mount --name ID IMAGE --hold 3 with seed on
// stdin and returns the spec it printed. The explain line shows the
// command without --hold: in a shell, fs-layer rm is the second half.
func (x Executor) mountHeld(seed io.Reader, id, image string) (*heldMount, []byte, error) {
	h := &heldMount{x: x, id: id}
	c := x.command(seed, "fs-layer", "mount", "--name", id, image)
	out, err := c.StdoutPipe()
	if err != nil {
		return h, nil, err
	}
	if h.hold, err = hold.Give(c); err != nil {
		return h, nil, err
	}
	err = c.Start()
	h.hold.Started()
	if err != nil {
		h.hold.Leave()
		return h, nil, err
	}
	h.cmd = c
	full, _ := io.ReadAll(out) // to its end: fs-layer closes stdout once it holds
	if len(full) == 0 {
		// It failed, and undid what it made: no "rm", only its status.
		h.hold.Leave()
		err := c.Wait()
		h.cmd = nil
		if err == nil {
			err = errors.New("it exited 0 without printing a spec")
		} else {
			err = fmt.Errorf("%w (its message is above)", err)
		}
		return h, nil, err
	}
	return h, full, nil
}

// remove says "rm" to the holding fs-layer and waits for it; if it is
// gone (killed), or never started, an fs-layer rm -f of its own does the
// work.
func (h *heldMount) remove() {
	if h.cmd == nil {
		h.x.rm(h.id)
		return
	}
	h.x.Log.Step(fmt.Sprintf("write(fs-layer's fd 3, \"rm\"); close; wait(%d)", h.cmd.Process.Pid), "fs-layer rm -f "+h.id)
	err := h.hold.Rm()
	if werr := h.cmd.Wait(); err == nil {
		err = werr
	}
	h.cmd = nil
	if err != nil {
		h.x.rm(h.id)
	}
}

// scriptFile writes content to a new executable temporary file in dir.
func scriptFile(dir, content string) (string, error) {
	f, err := os.CreateTemp(dir, "ckb-heredoc-*")
	if err != nil {
		return "", err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o755)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("write the heredoc script: %w", err)
	}
	return f.Name(), nil
}
