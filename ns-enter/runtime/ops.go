package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	"ctrkit/ns-enter/container"
	"ctrkit/ns-enter/namespace"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// CreateOptions are runc create's flags.
type CreateOptions struct {
	Bundle        string
	PIDFile       string
	ConsoleSocket string
	NoPivot       bool
	NoNewKeyring  bool
	PreserveFDs   int
	Log           *explain.Log
	Explain       bool
	SeccompCache  string // container.Options'
}

// Create is runc create: the container's process is set up in its
// namespaces and cgroup and waits, before execve, until Start; Create
// returns then and leaves it to its parent's subreaper (containerd's shim).
func Create(root, id string, o CreateOptions) error {
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return err
	}
	s, err := readBundle(bundle)
	if err != nil {
		return err
	}
	return create(root, id, bundle, s, o, false)
}

func readBundle(bundle string) (*specs.Spec, error) {
	data, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("read the bundle's spec: %w (a bundle is a directory with config.json and usually rootfs/: runc spec makes one)", err)
	}
	s, err := spec.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(bundle, "config.json"), err)
	}
	return s, nil
}

// create makes the state directory and starts the container; with
// foreground it does not detach and returns the process for Run to wait on.
func create(root, id, bundle string, s *specs.Spec, o CreateOptions, foreground bool) error {
	st, err := New(root, id)
	if err != nil {
		return err
	}
	st.Bundle, st.Annotations = bundle, s.Annotations
	if s.Root != nil {
		st.Rootfs = s.Root.Path
		if !filepath.IsAbs(st.Rootfs) {
			st.Rootfs = filepath.Join(bundle, st.Rootfs)
		}
	}
	ok := false
	defer func() {
		if !ok {
			st.Remove()
		}
	}()
	fifo := st.Path("exec.fifo")
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return fmt.Errorf("make the exec fifo: %w", err)
	}
	// The container's process reopens the fifo for writing as its root,
	// which a user namespace maps to another host id: give it the fifo,
	// as runc does (the state directory stays root's and private).
	if s.Linux != nil && len(s.Linux.UIDMappings) > 0 {
		uid, _ := namespace.HostID(s.Linux.UIDMappings, 0)
		gid, _ := namespace.HostID(s.Linux.GIDMappings, 0)
		if err := os.Chown(fifo, int(uid), int(gid)); err != nil {
			return fmt.Errorf("give the exec fifo to the container's root: %w", err)
		}
	}
	// cg-limit, when ns-enter runs it to make the cgroup, records what it
	// made under CTRKIT_STATE: keep that with this container's state.
	os.Setenv("CTRKIT_STATE", st.Path("ctrkit"))
	mounts, err := container.Snapshot(s, bundle)
	if err != nil {
		return err
	}
	p, err := container.Start(s, container.Options{
		Bundle: bundle, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		PIDFile: o.PIDFile, PassFDs: o.PreserveFDs, NoNewKeyring: o.NoNewKeyring, NoPivot: o.NoPivot,
		ID: id, ExecFifo: fifo, Detach: true, ConsoleSocket: o.ConsoleSocket,
		Explain: o.Explain, Log: o.Log, SeccompCache: o.SeccompCache,
	})
	st.CallerMounts = mounts.Made()
	if err != nil {
		container.Unmount(o.Log, st.CallerMounts)
		return err
	}
	if err := st.SetPid(p.Pid); err != nil {
		syscall.Kill(p.Pid, syscall.SIGKILL)
		return fmt.Errorf("the container's process %d: %w", p.Pid, err)
	}
	st.CgroupsPath, st.CgroupMade = s.Linux.CgroupsPath, p.CgroupMade
	if err = st.SaveSpec(s); err == nil {
		err = st.Save()
	}
	if err != nil {
		syscall.Kill(p.Pid, syscall.SIGKILL)
		waitGone(st, 5*time.Second)
		container.Unmount(o.Log, st.CallerMounts)
		if st.CgroupMade != "" {
			CgLimit(o.Log, nil, "rm", "-f", st.CgroupMade)
		}
		return err
	}
	ok = true
	return nil
}

// Start is runc start: opening the exec fifo lets the waiting process go on
// to execve; then the poststart hooks run.
func Start(root, id string, log *explain.Log) error {
	st, err := Load(root, id)
	if err != nil {
		return err
	}
	if status := st.Status(Frozen); status != specs.StateCreated {
		return fmt.Errorf("container %s is %s, not created: only a created container can be started", id, status)
	}
	fifo := st.Path("exec.fifo")
	log.Step(fmt.Sprintf("open(%q, O_RDONLY); read(…)", fifo), "cat "+explain.Quote(fifo))
	f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("open the exec fifo: %w", err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	os.Remove(fifo)
	if err != nil || len(data) == 0 {
		return fmt.Errorf("container %s did not start: its process ended before execve (%v)", id, err)
	}
	s, err := st.Spec()
	if err == nil && s.Hooks != nil {
		container.WarnHooks(log, os.Stderr, "poststart", s.Hooks.Poststart, st.OCIState(specs.StateRunning))
	}
	return nil
}

// Kill is runc kill [--all]: sig to the container's process, or with all
// to every process in its cgroup.
func Kill(root, id string, sig syscall.Signal, all bool) error {
	st, err := Load(root, id)
	if err != nil {
		return err
	}
	if !all {
		if !st.Alive() {
			return fmt.Errorf("container %s is not running", id)
		}
		return syscall.Kill(st.Pid, sig)
	}
	pids, err := st.Pids()
	if err != nil {
		return err
	}
	for _, pid := range pids {
		syscall.Kill(pid, sig)
	}
	return nil
}

// Delete is runc delete [--force]: the process killed (with force), the
// cgroup ns-enter made removed, the poststop hooks run, the state gone.
func Delete(root, id string, force bool, log *explain.Log) error {
	st, err := Load(root, id)
	if err != nil {
		return err
	}
	// Only a stopped container is deleted without --force, as the spec
	// says. runc also deletes a created one (killing its waiting
	// process); containerd's shim never relies on that: its client kills
	// a created task before deleting it.
	switch status := st.Status(Frozen); {
	case status == specs.StateStopped:
	case force:
		if status == "paused" {
			CgLimit(log, nil, "thaw", cgName(st.CgroupsPath)) // a frozen process does not die
		}
		pids, _ := st.Pids()
		if len(pids) == 0 || st.CgroupsPath == "" {
			pids = []int{st.Pid}
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		waitGone(st, 5*time.Second)
	default:
		return fmt.Errorf("container %s is %s: stop it first, or delete --force", id, status)
	}
	var errs []error
	if err := container.Unmount(log, st.CallerMounts); err != nil {
		errs = append(errs, err)
	}
	if st.CgroupMade != "" {
		if _, err := CgLimit(log, nil, "rm", "-f", st.CgroupMade); err != nil {
			errs = append(errs, err)
		}
	}
	s, specErr := st.Spec()
	if err := st.Remove(); err != nil {
		errs = append(errs, err)
	}
	// After the container is deleted, before delete returns (the spec).
	if specErr == nil && s.Hooks != nil {
		container.WarnHooks(log, os.Stderr, "poststop", s.Hooks.Poststop, st.OCIState(specs.StateStopped))
	}
	return errors.Join(errs...)
}

// waitGone waits until the init process is no more (its parent, the shim,
// reaps it; we cannot), at most d.
func waitGone(st *State, d time.Duration) {
	for end := time.Now().Add(d); st.Alive() && time.Now().Before(end); {
		time.Sleep(5 * time.Millisecond)
	}
}

// Run is runc run: create and start in one, in the foreground.
func Run(root, id string, o CreateOptions) (int, error) {
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return 125, err
	}
	s, err := readBundle(bundle)
	if err != nil {
		return 125, err
	}
	st, err := New(root, id)
	if err != nil {
		return 125, err
	}
	defer st.Remove()
	st.Bundle, st.Annotations, st.CgroupsPath = bundle, s.Annotations, s.Linux.CgroupsPath
	os.Setenv("CTRKIT_STATE", st.Path("ctrkit"))
	co := container.Options{
		Bundle: bundle, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		PIDFile: o.PIDFile, PassFDs: o.PreserveFDs, NoNewKeyring: o.NoNewKeyring, NoPivot: o.NoPivot, ID: id,
		ConsoleSocket: o.ConsoleSocket, Explain: o.Explain, Log: o.Log, SeccompCache: o.SeccompCache,
	}
	mounts, err := container.Snapshot(s, bundle)
	if err != nil {
		return 125, err
	}
	defer func() { container.Unmount(o.Log, mounts.Made()) }()
	p, err := container.Start(s, co)
	if err != nil {
		return 125, err
	}
	if err := st.SetPid(p.Pid); err == nil {
		st.SaveSpec(s)
		st.Save()
	}
	return p.Wait()
}

// Pause and Resume freeze and thaw the container's cgroup, with cg-limit.
func Pause(root, id string, log *explain.Log) error  { return freeze(root, id, "freeze", log) }
func Resume(root, id string, log *explain.Log) error { return freeze(root, id, "thaw", log) }

func freeze(root, id, verb string, log *explain.Log) error {
	st, err := Load(root, id)
	if err != nil {
		return err
	}
	if st.CgroupsPath == "" {
		return fmt.Errorf("container %s has no cgroup to %s", id, verb)
	}
	if !st.Alive() {
		return fmt.Errorf("container %s is not running", id)
	}
	_, err = CgLimit(log, nil, verb, cgName(st.CgroupsPath))
	return err
}

// Update is runc update --resources: new limits for the running
// container's cgroup, with cg-limit.
func Update(root, id string, r *specs.LinuxResources, log *explain.Log) error {
	st, err := Load(root, id)
	if err != nil {
		return err
	}
	if st.CgroupsPath == "" {
		return fmt.Errorf("container %s has no cgroup to update", id)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = CgLimit(log, data, "update", "--resources", "-", cgName(st.CgroupsPath))
	return err
}

// cgName is what cg-limit calls the cgroup at path: NAME for /ctrkit/NAME,
// else the path itself.
func cgName(path string) string {
	path = filepath.Clean("/" + path)
	if filepath.Dir(path) == "/ctrkit" {
		return filepath.Base(path)
	}
	return path
}
