package lifecycle

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ctrkit/internal/fsutil"
	"ctrkit/internal/proc"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// These tests play the supervisor's part by hand: a real process (a sleep
// the test starts) is the container's, the files in STATE/ID are written
// as ns-enter and the supervisor write them, and the code under test reads
// the kernel (/proc/PID/stat) to tell who is alive.

// deadID names a process that has ended (and a start time no process has).
func deadID(t *testing.T) proc.ID {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return proc.ID{PID: cmd.Process.Pid, Start: 1}
}

// sleeper starts a process that plays the container's, reaped at the end.
func sleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func writeState(t *testing.T, c *Container, name, data string) {
	t.Helper()
	if err := fsutil.WriteFile(c.Path(name), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// running makes c's process cmd, recorded as the supervisor records it.
func running(t *testing.T, c *Container, cmd *exec.Cmd, supervisor proc.ID) {
	t.Helper()
	writeState(t, c, "pid", strconv.Itoa(cmd.Process.Pid)+"\n")
	c.recordProcess(nil)
	writeState(t, c, "supervisor", supervisor.String()+"\n")
	os.Remove(c.Path("creator"))
}

func newContainer(t *testing.T, state, id, name string) *Container {
	t.Helper()
	c, err := New(state, Meta{ID: id, Name: name, Image: "alpine", Created: time.Now().UTC()})
	if err != nil {
		t.Fatalf("New(%s) = %v", id, err)
	}
	return c
}

func TestNewListFind(t *testing.T) {
	state := t.TempDir()
	a := newContainer(t, state, "aaaa1111", "web")
	time.Sleep(time.Millisecond)
	newContainer(t, state, "aaaa2222", "db")
	newContainer(t, state, "bbbb3333", "")
	os.MkdirAll(filepath.Join(state, "net"), 0o700) // another stage's state
	if _, err := New(state, Meta{ID: "cccc4444", Name: "web"}); err == nil {
		t.Errorf("New(name web again) = nil error")
	} else if e := (*NameConflictError)(nil); !errors.As(err, &e) || e.ID != "aaaa1111" || !strings.Contains(err.Error(), `The container name "/web" is already in use by container "aaaa1111"`) {
		t.Errorf("New(name web again) = %v, want docker's Conflict", err)
	}
	if _, err := os.Stat(filepath.Join(state, "cccc4444")); !os.IsNotExist(err) {
		t.Errorf("a refused New left its directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "names.lock")); !os.IsNotExist(err) {
		t.Errorf("STATE/names.lock is left: %v", err)
	}
	cs, err := List(state)
	if err != nil || len(cs) != 3 || cs[0].ID != "aaaa1111" {
		t.Fatalf("List() = %v, %v; want 3 containers, web first", cs, err)
	}
	for ref, want := range map[string]string{"web": "aaaa1111", "aaaa2222": "aaaa2222", "bbbb": "bbbb3333", "db": "aaaa2222"} {
		if c, err := Find(state, ref); err != nil || c.ID != want {
			t.Errorf("Find(%q) = %v, %v; want %s", ref, c, err, want)
		}
	}
	for ref, want := range map[string]string{"aaaa": "matches 2 containers", "zzzz": "no such container"} {
		if _, err := Find(state, ref); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Find(%q) = %v, want %q", ref, err, want)
		}
	}
	if cs, err := List(filepath.Join(state, "missing")); err != nil || cs != nil {
		t.Errorf("List(missing) = %v, %v", cs, err)
	}
	if got := stateOf(a); got != state {
		t.Errorf("stateOf() = %q, want %q", got, state)
	}
}

func TestStatus(t *testing.T) {
	state := t.TempDir()
	c := newContainer(t, state, "s1", "s1")
	if got := c.Status(); got != "creating" {
		t.Errorf("Status() while this process creates it = %q, want creating", got)
	}
	writeState(t, c, "creator", deadID(t).String())
	if got := c.Status(); !strings.HasPrefix(got, "dead (create interrupted") {
		t.Errorf("Status() with a dead creator = %q, want dead", got)
	}
	os.Remove(c.Path("creator"))
	if got := c.Status(); got != "created" {
		t.Errorf("Status() = %q, want created", got)
	}

	cmd := sleeper(t)
	running(t, c, cmd, proc.Self())
	if got := c.Status(); got != "running" || !c.Running() || c.PID() != cmd.Process.Pid {
		t.Errorf("Status() = %q, PID %d; want running, %d", got, c.PID(), cmd.Process.Pid)
	}
	if id := c.Process(); id.Start == 0 {
		t.Errorf("Process() = %v, want the start time recorded", id)
	}
	writeState(t, c, "paused", "")
	if got := c.Status(); got != "paused" {
		t.Errorf("Status() = %q, want paused", got)
	}
	os.Remove(c.Path("paused"))
	writeState(t, c, "supervisor", deadID(t).String())
	if got := c.Status(); got != "running (supervisor gone)" {
		t.Errorf("Status() = %q, want running (supervisor gone)", got)
	}
	// A bare PID with no start time is trusted only while its supervisor lives.
	os.Remove(c.Path("process"))
	if c.PID() != 0 {
		t.Errorf("PID() with no start time and a dead supervisor = %d, want 0", c.PID())
	}
	writeState(t, c, "supervisor", proc.Self().String())
	if c.PID() != cmd.Process.Pid {
		t.Errorf("PID() with no start time and a live supervisor = %d, want %d", c.PID(), cmd.Process.Pid)
	}
	c.recordProcess(nil)

	cmd.Process.Kill()
	cmd.Wait()
	if got := c.Status(); got != "exited (unknown)" {
		t.Errorf("Status() after its process died unrecorded = %q", got)
	}
	if err := c.RecordExit(137); err != nil {
		t.Fatal(err)
	}
	if got := c.Status(); got != "exited (137)" || c.ExitCode() != 137 || !c.Exited() {
		t.Errorf("Status() = %q, want exited (137)", got)
	}
	writeState(t, c, "restarting", "")
	if got := c.Status(); got != "restarting (137)" {
		t.Errorf("Status() = %q, want restarting (137)", got)
	}
	writeState(t, c, "restarts", "3\n")
	if c.Restarts() != 3 {
		t.Errorf("Restarts() = %d, want 3", c.Restarts())
	}
	// Rewind: ready to run again, its records gone.
	if err := c.Rewind(); err != nil {
		t.Fatalf("Rewind() = %v", err)
	}
	for _, f := range []string{"pid", "process", "exit", "restarting", "supervisor"} {
		if c.has(f) {
			t.Errorf("%s is left after Rewind", f)
		}
	}
	if got := c.Status(); got != "created" {
		t.Errorf("Status() after Rewind = %q, want created", got)
	}
	running(t, c, sleeper(t), proc.Self())
	if err := c.Rewind(); err == nil || !strings.Contains(err.Error(), "is running") {
		t.Errorf("Rewind(running) = %v", err)
	}
}

func TestSignalStopKill(t *testing.T) {
	state := t.TempDir()
	c := newContainer(t, state, "k1", "k1")
	if err := c.Signal(syscall.SIGTERM); err == nil || !strings.Contains(err.Error(), "is not running") {
		t.Errorf("Signal(not running) = %v", err)
	}
	if err := c.Pause(nil); err == nil || !strings.Contains(err.Error(), "only a running container can pause") {
		t.Errorf("Pause(not running) = %v", err)
	}
	if err := c.Unpause(nil); err == nil || !strings.Contains(err.Error(), "is not paused") {
		t.Errorf("Unpause(not paused) = %v", err)
	}
	cmd := sleeper(t)
	running(t, c, cmd, proc.Self())
	writeState(t, c, "paused", "")
	if err := c.Pause(nil); err == nil || !strings.Contains(err.Error(), "already paused") {
		t.Errorf("Pause(paused) = %v", err)
	}
	os.Remove(c.Path("paused"))
	if err := c.Remove(nil, os.Stderr, false); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("Remove(running) = %v", err)
	}
	if err := c.Stop(syscall.SIGTERM, 5*time.Second); err != nil {
		t.Fatalf("Stop() = %v", err)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("the process after Stop: %v, want terminated", err)
	}
	if !c.has("stopped") {
		t.Errorf("Stop() did not mark the container stopped")
	}
	if err := c.Stop(syscall.SIGTERM, time.Second); err != nil {
		t.Errorf("Stop() of a stopped container = %v", err)
	}

	// A process that ignores SIGTERM gets SIGKILL after the timeout.
	c2 := newContainer(t, state, "k2", "k2")
	stubborn := exec.Command("sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done")
	out, _ := stubborn.StdoutPipe()
	if err := stubborn.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stubborn.Process.Kill(); stubborn.Wait() })
	out.Read(make([]byte, 6))
	running(t, c2, stubborn, proc.Self())
	t0 := time.Now()
	if err := c2.Stop(syscall.SIGTERM, 300*time.Millisecond); err != nil {
		t.Fatalf("Stop(stubborn) = %v", err)
	}
	if err := stubborn.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("a process ignoring SIGTERM after Stop: %v, want killed", err)
	}
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Errorf("Stop() sent SIGKILL after %v, before the 300 ms timeout", d)
	}

	c3 := newContainer(t, state, "k3", "k3")
	cmd3 := sleeper(t)
	running(t, c3, cmd3, proc.Self())
	if err := c3.Kill(syscall.SIGUSR1); err != nil {
		t.Fatalf("Kill(SIGUSR1) = %v", err)
	}
	if err := cmd3.Wait(); err == nil || !strings.Contains(err.Error(), "user defined signal 1") {
		t.Errorf("the process after Kill(SIGUSR1): %v", err)
	}
	if !c3.has("stopped") {
		t.Errorf("Kill() did not mark the container stopped")
	}
}

// TestRemoveAndGC: Remove runs each recorded undo command once, newest
// first, and deletes the state; GC removes what crashes left and keeps
// what still runs.
func TestRemoveAndGC(t *testing.T) {
	state, out := t.TempDir(), t.TempDir()
	undone := filepath.Join(out, "undone")
	record := func(id, name string) {
		s := &specs.Spec{Annotations: map[string]string{spec.IDAnnotation: id}}
		if err := spec.Record(s, state, spec.Resource{Stage: "test", Kind: "dir", Name: name,
			Undo: []string{"sh", "-c", "echo " + id + "-" + name + " >> " + undone}}); err != nil {
			t.Fatal(err)
		}
	}
	// killedCreate: its ctr-run died while creating it.
	a := newContainer(t, state, "gc-a", "a")
	writeState(t, a, "creator", deadID(t).String())
	record("gc-a", "mount")
	record("gc-a", "mount") // the same undo twice runs once
	// noMeta: its create crashed before meta.json.
	record("gc-b", "cgroup")
	// rmUnfinished: an --rm container that ended, its removal cut short.
	c, _ := New(state, Meta{ID: "gc-c", Name: "c", Rm: true})
	os.Remove(c.Path("creator"))
	c.RecordExit(0)
	// supervisorDied: it ran, its supervisor died, it no longer runs.
	d := newContainer(t, state, "gc-d", "d")
	dead := sleeper(t)
	running(t, d, dead, deadID(t))
	dead.Process.Kill()
	dead.Wait()
	// orphan: still runs, its supervisor is gone: kept.
	e := newContainer(t, state, "gc-e", "e")
	running(t, e, sleeper(t), deadID(t))
	// ended normally: stays, as with docker.
	f := newContainer(t, state, "gc-f", "f")
	os.Remove(f.Path("creator"))
	f.RecordExit(1)
	// being created right now by this process: left alone.
	newContainer(t, state, "gc-g", "g")

	dry, kept, err := GC(state, nil, os.Stderr, true)
	if err != nil {
		t.Fatalf("GC(dry run) = %v", err)
	}
	ids := func(cs []Collected) string {
		var s []string
		for _, c := range cs {
			s = append(s, c.ID)
		}
		return strings.Join(s, " ")
	}
	if got := ids(dry); got != "gc-a gc-b gc-c gc-d" {
		t.Errorf("GC(dry run) removes %q, want gc-a gc-b gc-c gc-d", got)
	}
	if len(kept) != 1 || kept[0].ID != "gc-e" {
		t.Errorf("GC kept %v, want gc-e", kept)
	}
	if _, err := os.Stat(undone); err == nil {
		t.Errorf("a dry run ran an undo command")
	}
	removed, _, err := GC(state, nil, os.Stderr, false)
	if err != nil || ids(removed) != "gc-a gc-b gc-c gc-d" {
		t.Fatalf("GC() = %q, %v", ids(removed), err)
	}
	for _, r := range removed {
		if r.Why == "" {
			t.Errorf("GC removed %s without saying why", r.ID)
		}
	}
	data, _ := os.ReadFile(undone)
	if got := strings.Fields(string(data)); len(got) != 2 || !strings.Contains(string(data), "gc-a-mount") || !strings.Contains(string(data), "gc-b-cgroup") {
		t.Errorf("undo commands ran %q, want gc-a-mount once and gc-b-cgroup", got)
	}
	left, _ := os.ReadDir(state)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "gc-e gc-f gc-g" {
		t.Errorf("after GC, STATE holds %q, want gc-e gc-f gc-g", names)
	}

	// A failing undo keeps the state, for gc to try again.
	s := &specs.Spec{Annotations: map[string]string{spec.IDAnnotation: "gc-f"}}
	spec.Record(s, state, spec.Resource{Stage: "test", Kind: "dir", Name: "x", Undo: []string{"false"}})
	if err := f.Remove(nil, os.Stderr, false); err == nil || !strings.Contains(err.Error(), "ctr-run gc tries again") {
		t.Errorf("Remove() with a failing undo = %v", err)
	}
	if _, err := os.Stat(f.Dir); err != nil {
		t.Errorf("a failed Remove deleted the state: %v", err)
	}
	// rm -f of a running container kills it first.
	if err := e.Remove(nil, os.Stderr, true); err != nil {
		t.Errorf("Remove(running, force) = %v", err)
	}
	if _, err := os.Stat(e.Dir); !os.IsNotExist(err) {
		t.Errorf("Remove(force) left %s: %v", e.Dir, err)
	}
}
