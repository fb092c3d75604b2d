package container

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/explain"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A failing poststart or poststop hook is a warning and the next hook
// still runs; a failing prestart-like hook stops the rest.
func TestWarnHooksGoOn(t *testing.T) {
	out := filepath.Join(t.TempDir(), "ran")
	hooks := []specs.Hook{
		{Path: "/bin/false"},
		{Path: "/bin/sh", Args: []string{"sh", "-c", "cat >" + out}},
	}
	state := specs.State{ID: "c1", Status: specs.StateStopped}
	log := explain.New("test", nil, false)
	var warn bytes.Buffer
	WarnHooks(log, &warn, "poststop", hooks, state)
	if !strings.Contains(warn.String(), "warning: poststop hook /bin/false") {
		t.Errorf("WarnHooks warned %q, want the failing hook named", warn.String())
	}
	if data, err := os.ReadFile(out); err != nil || !strings.Contains(string(data), `"id":"c1"`) {
		t.Errorf("the hook after the failing one read %q (%v), want the state", data, err)
	}
	os.Remove(out)
	if err := RunHooks(log, "prestart", hooks, state); err == nil {
		t.Error("RunHooks with a failing hook returned nil, want an error")
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("RunHooks ran the hook after a failing one")
	}
}
