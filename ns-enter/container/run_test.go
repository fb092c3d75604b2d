package container

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/exitcode"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestMain lets the test binary act as stage 1 when Run re-executes it.
func TestMain(m *testing.M) {
	if IsInit() {
		os.Exit(Init())
	}
	os.Exit(m.Run())
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("privileged test: creates namespaces, needs root")
	}
}

// run runs args in new pid and uts namespaces and returns status and stdout.
func run(t *testing.T, s *specs.Spec) (int, string, error) {
	t.Helper()
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	status, runErr := Run(s, Options{Bundle: t.TempDir(), Stdout: out, Stderr: os.Stderr})
	data, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	return status, string(data), runErr
}

func newSpec(args ...string) *specs.Spec {
	return &specs.Spec{
		Version:  specs.Version,
		Hostname: "box",
		Process:  &specs.Process{Args: args, Env: []string{"PATH=/usr/bin:/bin"}, Cwd: "/"},
		Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{
			{Type: specs.PIDNamespace}, {Type: specs.UTSNamespace},
		}},
	}
}

func TestRunStatusAndIsolation(t *testing.T) {
	requireRoot(t)
	host, _ := os.Hostname()
	status, out, err := run(t, newSpec("sh", "-c", "echo $$ $(hostname); exit 3"))
	if err != nil || status != 3 {
		t.Fatalf("Run(sh -c 'exit 3') = %d, %v, want 3, nil", status, err)
	}
	if out != "1 box\n" {
		t.Errorf("Run(echo $$ $(hostname)) printed %q, want %q (PID 1, own host name)", out, "1 box\n")
	}
	if now, _ := os.Hostname(); now != host {
		t.Errorf("host name changed outside to %q, want %q", now, host)
	}
}

func TestRunKilledBySignal(t *testing.T) {
	requireRoot(t)
	// Not in a new pid namespace: there, PID 1 cannot be killed from inside.
	s := newSpec("sh", "-c", "kill -KILL $$")
	s.Linux.Namespaces = s.Linux.Namespaces[1:]
	status, _, err := run(t, s)
	if err != nil || status != 128+9 {
		t.Errorf("Run(kill -KILL $$) = %d, %v, want 137, nil", status, err)
	}
}

func TestRunFailures(t *testing.T) {
	requireRoot(t)
	missingRoot := newSpec("true")
	missingRoot.Root = &specs.Root{Path: "/nonexistent/rootfs"}
	missingRoot.Linux.Namespaces = append(missingRoot.Linux.Namespaces, specs.LinuxNamespace{Type: specs.MountNamespace})
	badMap := newSpec("true")
	badMap.Linux.Namespaces = append(badMap.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	badMap.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 1, HostID: 100000, Size: 10}}
	hostnameNoUTS := newSpec("true")
	hostnameNoUTS.Linux.Namespaces = hostnameNoUTS.Linux.Namespaces[:1]
	tests := []struct {
		name     string
		spec     *specs.Spec
		wantCode int
		want     string
	}{
		{"not found", newSpec("no-such-program-ck"), 127, "executable file not found"},
		{"not executable", newSpec("/etc/passwd"), 126, "permission denied"},
		{"missing rootfs", missingRoot, 125, "root filesystem /nonexistent/rootfs is missing"},
		{"id map without 0", badMap, 125, "does not map id 0"},
		{"hostname without uts", hostnameNoUTS, 125, "needs a UTS namespace of the container's own"},
		{"no process", &specs.Spec{Version: specs.Version}, 125, "no process to run"},
	}
	for _, tt := range tests {
		status, _, err := run(t, tt.spec)
		var e *exitcode.Error
		if err == nil || !strings.Contains(err.Error(), tt.want) || status != tt.wantCode || (errors.As(err, &e) && e.Code != tt.wantCode) {
			t.Errorf("Run(%s) = %d, %v, want %d and an error saying %q", tt.name, status, err, tt.wantCode, tt.want)
		}
	}
}

func TestRunPoststopHook(t *testing.T) {
	requireRoot(t)
	out := filepath.Join(t.TempDir(), "state.json")
	s := newSpec("true")
	s.Annotations = map[string]string{"ctrkit.id": "abc123"}
	s.Hooks = &specs.Hooks{Poststop: []specs.Hook{{Path: "/bin/sh", Args: []string{"sh", "-c", "cat > " + out}}}}
	if status, _, err := run(t, s); status != 0 || err != nil {
		t.Fatalf("Run(true with a poststop hook) = %d, %v, want 0, nil", status, err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the poststop hook did not run: %v", err)
	}
	if !strings.Contains(string(data), `"id":"abc123"`) || !strings.Contains(string(data), `"status":"stopped"`) {
		t.Errorf("poststop hook's stdin = %s, want the state with id abc123, status stopped", data)
	}
}
