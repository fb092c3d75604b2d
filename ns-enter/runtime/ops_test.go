package runtime

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ctrkit/ns-enter/container"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMain lets the test binary act as ns-enter's stage 1 when
// container.Start re-executes it.
func TestMain(m *testing.M) {
	if container.IsInit() {
		os.Exit(container.Init())
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("privileged test: creates namespaces, needs root")
	}
}

// bundle writes a bundle whose process runs script in new pid and uts
// namespaces, on the host's root (no root.path: the tests need no image).
func bundle(t *testing.T, script string, hooks *specs.Hooks) string {
	t.Helper()
	dir := t.TempDir()
	s := &specs.Spec{
		Version:  specs.Version,
		Hostname: "box",
		Process:  &specs.Process{Args: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Cwd: "/"},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.UTSNamespace},
		}},
		Annotations: map[string]string{"org.example": "x"},
		Hooks:       hooks,
	}
	data, _ := json.Marshal(s)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// waitFile waits up to 5 s for file to hold something, and returns it.
func waitFile(t *testing.T, file string) string {
	t.Helper()
	for i := 0; i < 500; i++ {
		if data, err := os.ReadFile(file); err == nil && len(data) > 0 {
			return string(data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s stayed empty for 5 s", file)
	return ""
}

func status(t *testing.T, root, id string) specs.ContainerState {
	t.Helper()
	st, err := Load(root, id)
	if err != nil {
		t.Fatalf("Load(%s) = %v", id, err)
	}
	return st.Status(Frozen)
}

// TestCreateStartExecDelete walks a container through runc's verbs:
// create (waiting on the exec fifo), start, exec into it, kill, delete.
func TestCreateStartExecDelete(t *testing.T) {
	requireRoot(t)
	root, out := t.TempDir(), t.TempDir()
	hookOut := filepath.Join(out, "poststop")
	b := bundle(t, "hostname > "+out+"/started; exec sleep 30",
		&specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + hookOut}}}})
	pidFile := filepath.Join(out, "pid")
	if err := Create(root, "rt1", CreateOptions{Bundle: b, PIDFile: pidFile}); err != nil {
		t.Fatalf("Create(rt1) = %v", err)
	}
	t.Cleanup(func() { Delete(root, "rt1", true, nil) })
	st, err := Load(root, "rt1")
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Status(Frozen); got != specs.StateCreated {
		t.Errorf("status after Create = %s, want created", got)
	}
	if data, _ := os.ReadFile(pidFile); strings.TrimSpace(string(data)) != strconv.Itoa(st.Pid) {
		t.Errorf("pid file = %q, want %d", data, st.Pid)
	}
	if _, err := os.Stat(filepath.Join(out, "started")); err == nil {
		t.Errorf("the process ran before Start")
	}
	if s := st.OCIState(specs.StateCreated); s.Pid != st.Pid || s.Bundle != b || s.Annotations["org.example"] != "x" {
		t.Errorf("OCIState() = %+v", s)
	}
	if all, err := List(root); err != nil || len(all) != 1 || all[0].ID != "rt1" {
		t.Errorf("List() = %v, %v", all, err)
	}
	if err := Create(root, "rt1", CreateOptions{Bundle: b}); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("Create(rt1) again = %v, want 'exists already'", err)
	}
	if err := Start(root, "rt1", nil); err != nil {
		t.Fatalf("Start(rt1) = %v", err)
	}
	if got := waitFile(t, filepath.Join(out, "started")); got != "box\n" {
		t.Errorf("the container's hostname = %q, want box", got)
	}
	if got := status(t, root, "rt1"); got != specs.StateRunning {
		t.Errorf("status after Start = %s, want running", got)
	}
	if err := Start(root, "rt1", nil); err == nil || !strings.Contains(err.Error(), "is running, not created") {
		t.Errorf("Start(rt1) again = %v", err)
	}

	// exec joins the container's namespaces: its hostname, its pid
	// namespace (/proc is the host's: no mount namespace here).
	p, err := ExecProcess(root, "rt1", ExecFlags{Args: []string{"sh", "-c", "echo $(hostname) $(readlink /proc/self/ns/pid) $X > " + out + "/exec; exit 4"},
		Env: []string{"X=y"}, Cwd: "/tmp", NoNewPrivs: true, User: &specs.User{UID: 0}})
	if err != nil {
		t.Fatalf("ExecProcess() = %v", err)
	}
	if p.Cwd != "/tmp" || !p.NoNewPrivileges || p.Env[len(p.Env)-1] != "X=y" {
		t.Errorf("ExecProcess() = %+v", p)
	}
	if code, err := Exec(root, "rt1", ExecOptions{Process: p}); err != nil || code != 4 {
		t.Errorf("Exec() = %d, %v; want 4", code, err)
	}
	pidns, _ := os.Readlink("/proc/" + strconv.Itoa(st.Pid) + "/ns/pid")
	if got, want := waitFile(t, filepath.Join(out, "exec")), "box "+pidns+" y\n"; got != want {
		t.Errorf("exec saw %q, want %q", got, want)
	}
	if _, err := ExecProcess(root, "rt1", ExecFlags{}); err == nil {
		t.Errorf("ExecProcess(no args) = nil error")
	}

	if err := Pause(root, "rt1", nil); err == nil || !strings.Contains(err.Error(), "no cgroup") {
		t.Errorf("Pause(no cgroup) = %v", err)
	}
	if err := Update(root, "rt1", &specs.LinuxResources{}, nil); err == nil || !strings.Contains(err.Error(), "no cgroup") {
		t.Errorf("Update(no cgroup) = %v", err)
	}
	if err := Delete(root, "rt1", false, nil); err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("Delete(running, no force) = %v, want 'stop it first'", err)
	}
	if err := Kill(root, "rt1", syscall.SIGKILL, true); err != nil {
		t.Fatalf("Kill(--all) = %v", err)
	}
	st, _ = Load(root, "rt1")
	waitGone(st, 5*time.Second)
	if got := status(t, root, "rt1"); got != specs.StateStopped {
		t.Errorf("status after SIGKILL = %s, want stopped", got)
	}
	if err := Kill(root, "rt1", syscall.SIGKILL, false); err == nil || !strings.Contains(err.Error(), "not running") {
		t.Errorf("Kill(stopped) = %v", err)
	}
	if _, err := Exec(root, "rt1", ExecOptions{Process: p}); err == nil || !strings.Contains(err.Error(), "is stopped") {
		t.Errorf("Exec(stopped) = %v", err)
	}
	if err := Delete(root, "rt1", false, nil); err != nil {
		t.Fatalf("Delete(stopped) = %v", err)
	}
	if _, err := os.Stat(Dir(root, "rt1")); !os.IsNotExist(err) {
		t.Errorf("state dir left after Delete: %v", err)
	}
	if got := waitFile(t, hookOut); !strings.Contains(got, `"id":"rt1"`) || !strings.Contains(got, `"status":"stopped"`) {
		t.Errorf("poststop hook read %q, want rt1's state, stopped", got)
	}
	if err := Delete(root, "rt1", false, nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Delete(gone) = %v", err)
	}
}

// TestDeleteCreated: a created container, never started, is killed and
// removed by delete without --force, as runc does.
func TestDeleteCreated(t *testing.T) {
	requireRoot(t)
	root, out := t.TempDir(), t.TempDir()
	if err := Create(root, "rt2", CreateOptions{Bundle: bundle(t, "touch "+out+"/ran", nil)}); err != nil {
		t.Fatalf("Create(rt2) = %v", err)
	}
	st, _ := Load(root, "rt2")
	// The spec: deleting a container that is not stopped is an error; only
	// --force ends it (runtime-tools' delete program checks both).
	if err := Delete(root, "rt2", false, nil); err == nil || !strings.Contains(err.Error(), "delete --force") {
		t.Errorf("Delete(created) = %v, want the error naming --force", err)
	}
	if !st.Alive() {
		t.Fatalf("Delete(created) without --force ended the process %d", st.Pid)
	}
	if err := Delete(root, "rt2", true, nil); err != nil {
		t.Fatalf("Delete(created, force) = %v", err)
	}
	if st.Alive() {
		t.Errorf("the created process %d still runs after Delete", st.Pid)
	}
	if _, err := os.Stat(filepath.Join(out, "ran")); err == nil {
		t.Errorf("the process ran its command, never started")
	}
	if err := Start(root, "rt2", nil); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Start(deleted) = %v", err)
	}
}

func TestRunForeground(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	code, err := Run(root, "rt3", CreateOptions{Bundle: bundle(t, "exit 7", nil)})
	if err != nil || code != 7 {
		t.Errorf("Run(exit 7) = %d, %v; want 7", code, err)
	}
	if _, err := os.Stat(Dir(root, "rt3")); !os.IsNotExist(err) {
		t.Errorf("Run left its state dir: %v", err)
	}
	if code, err := Run(root, "rt3", CreateOptions{Bundle: t.TempDir()}); err == nil || code != 125 || !strings.Contains(err.Error(), "a bundle is a directory with config.json") {
		t.Errorf("Run(empty bundle) = %d, %v", code, err)
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(`{"ociVersion": 1}`), 0o644)
	if err := Create(root, "rt4", CreateOptions{Bundle: bad}); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("Create(bad config.json) = %v", err)
	}
	if _, err := Run(root, "../x", CreateOptions{Bundle: bundle(t, "true", nil)}); err == nil {
		t.Errorf("Run(id ../x) = nil error")
	}
}

// TestPidsFrozen reads a container's cgroup: a throwaway v1 freezer
// cgroup, /ctrkit-test-ID, with a sleep in it, frozen by hand.
func TestPidsFrozen(t *testing.T) {
	requireRoot(t)
	freezer := "/sys/fs/cgroup/freezer"
	if _, err := os.Stat(filepath.Join(freezer, "freezer.state")); err != nil {
		if _, err := os.Stat(filepath.Join(freezer, "cgroup.procs")); err != nil {
			t.Skip("needs a cgroup v1 freezer hierarchy at " + freezer)
		}
	}
	path := "/ctrkit-test-" + strconv.Itoa(os.Getpid())
	dir := filepath.Join(freezer, path)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	proc, err := os.StartProcess("/bin/sleep", []string{"sleep", "30"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0)
		proc.Kill()
		proc.Wait()
		for i := 0; i < 100 && syscall.Rmdir(dir) == syscall.EBUSY; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	})
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(proc.Pid)), 0); err != nil {
		t.Fatal(err)
	}
	st := &State{ID: "c", CgroupsPath: path}
	if err := st.SetPid(proc.Pid); err != nil {
		t.Fatal(err)
	}
	if pids, err := st.Pids(); err != nil || len(pids) != 1 || pids[0] != proc.Pid {
		t.Errorf("Pids() = %v, %v; want [%d]", pids, err, proc.Pid)
	}
	if Frozen(path) || st.Status(Frozen) != specs.StateRunning {
		t.Errorf("a thawed cgroup reads frozen, or the status is %s", st.Status(Frozen))
	}
	if err := os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("FROZEN"), 0); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 500 && !Frozen(path); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := st.Status(Frozen); got != "paused" {
		t.Errorf("status of a frozen container = %s, want paused", got)
	}
	if err := st.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("Signal(0) to a live process = %v", err)
	}
	gone := &State{ID: "g", CgroupsPath: path + "-none"}
	if pids, err := gone.Pids(); err != nil || len(pids) != 0 {
		t.Errorf("Pids() of a cgroup that is not there = %v, %v", pids, err)
	}
	if err := gone.Signal(syscall.SIGTERM); err == nil {
		t.Errorf("Signal() to no process = nil error")
	}
}
