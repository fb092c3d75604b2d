package spec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, want string
		notJSON  bool
	}{
		{"", "the document is empty", false},
		{"hello", "line 1, column 1", true},
		{"{\n  \"ociVersion\": 1.0.0\n}", "line 2, column 20", false},
		{"{\"ociVersion\": \"1.0\",\n", "line 2, column 1: unexpected end of input", false},
		{`{"foo": 1}`, `no "ociVersion" field`, false},
		{"[1, 2]", "not an OCI runtime spec: line 1, column 1", false},
		{"{\"ociVersion\": \"1.0\",\n  \"process\": {\"args\": \"sh\"}}", "line 2, column 26: process.args must not be a JSON string", false},
		{`{"ociVersion": "1.0"} {"ociVersion": "1.0"}`, "more than one JSON document", false},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) error = %v, want %q", tt.in, err, tt.want)
		}
		if got := errors.Is(err, ErrNotJSON); got != tt.notJSON {
			t.Errorf("Parse(%q): errors.Is(err, ErrNotJSON) = %v, want %v", tt.in, got, tt.notJSON)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	in := &specs.Spec{
		Version:  specs.Version,
		Hostname: "box",
		Process:  &specs.Process{Args: []string{"sh", "-c", "echo hi"}, Cwd: "/"},
		Linux:    &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}}},
	}
	var b bytes.Buffer
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "}\n") || strings.Count(b.String(), "\n}\n") != 1 {
		t.Errorf("Write = %q, want one indented document ending in a newline", b.String())
	}
	out, err := Read(&b)
	if err != nil {
		t.Fatalf("Read(Write(spec)) error = %v", err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("Read(Write(spec)) mismatch (-want +got):\n%s", diff)
	}
}

func TestID(t *testing.T) {
	s := &specs.Spec{Version: specs.Version}
	id := ID(s)
	if len(id) != 12 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("ID() = %q, want 12 hex digits", id)
	}
	if again := ID(s); again != id {
		t.Errorf("ID() second call = %q, want the recorded %q", again, id)
	}
	if other := ID(&specs.Spec{}); other == id {
		t.Errorf("ID() of two documents = %q twice, want different ids", id)
	}
}

func TestRecord(t *testing.T) {
	state := t.TempDir()
	s := &specs.Spec{Version: specs.Version}
	rs := []Resource{
		{Stage: "cg-limit", Kind: "cgroup", Name: "/sys/fs/cgroup/ctrkit/x", Undo: []string{"cg-limit", "rm", "x"}},
		{Stage: "net-bridge", Kind: "link", Name: "ck-x", Undo: []string{"net-bridge", "detach", "x"}},
	}
	for _, r := range rs {
		if err := Record(s, state, r); err != nil {
			t.Fatalf("Record(%v) error = %v", r, err)
		}
	}
	got, err := Resources(s)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, got); diff != "" {
		t.Errorf("Resources after Record mismatch (-want +got):\n%s", diff)
	}
	onDisk, err := StateResources(state, ID(s))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(rs, onDisk); diff != "" {
		t.Errorf("StateResources mismatch (-want +got):\n%s", diff)
	}
	ents, err := os.ReadDir(filepath.Join(state, ID(s)))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "resources.json" && e.Name() != ".lock" {
			t.Errorf("file %q left in the state dir, want only resources.json and .lock", e.Name())
		}
	}
	for _, c := range []struct {
		stage string
		names []string
		want  bool
	}{
		{"cg-limit", nil, true},
		{"cg-limit", []string{"/sys/fs/cgroup/ctrkit/x"}, true},
		{"cg-limit", []string{"/sys/fs/cgroup/ctrkit/y"}, false},
		{"fs-layer", nil, false},
		{"net-bridge", []string{"ck-y", "ck-x"}, true},
	} {
		if got := Recorded(state, ID(s), c.stage, c.names...); got != c.want {
			t.Errorf("Recorded(%s, %q) = %v, want %v", c.stage, c.names, got, c.want)
		}
	}
	if Recorded(state, "nothing-here", "cg-limit") {
		t.Errorf("Recorded() for an id with no state dir = true")
	}
}

func TestFromStdin(t *testing.T) {
	dir := t.TempDir()
	open := func(content string) *os.File {
		p := filepath.Join(dir, "in")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	if s, err := FromStdin(open("")); s != nil || err != nil {
		t.Errorf("FromStdin(empty file) = %v, %v, want nil, nil", s, err)
	}
	if s, err := FromStdin(open(`{"ociVersion": "1.2.0", "hostname": "h"}`)); err != nil || s.Hostname != "h" {
		t.Errorf("FromStdin(spec file) = %v, %v, want hostname h", s, err)
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	if s, err := FromStdin(devnull); s != nil || err != nil {
		t.Errorf("FromStdin(/dev/null) = %v, %v, want nil, nil (a device carries no document)", s, err)
	}

	// FromPipe: the same, but an empty pipe or file is the stage before
	// failing.
	if s, err := FromPipe(open("")); s != nil || !errors.Is(err, ErrEmptyPipe) {
		t.Errorf("FromPipe(empty file) = %v, %v, want ErrEmptyPipe", s, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer r.Close()
	if s, err := FromPipe(r); s != nil || !errors.Is(err, ErrEmptyPipe) {
		t.Errorf("FromPipe(empty pipe) = %v, %v, want ErrEmptyPipe", s, err)
	}
	if s, err := FromPipe(open(`{"ociVersion": "1.2.0", "hostname": "h"}`)); err != nil || s.Hostname != "h" {
		t.Errorf("FromPipe(spec file) = %v, %v, want hostname h", s, err)
	}
	if s, err := FromPipe(devnull); s != nil || err != nil {
		t.Errorf("FromPipe(/dev/null) = %v, %v, want nil, nil", s, err)
	}
}

func TestForget(t *testing.T) {
	state := t.TempDir()
	s := &specs.Spec{Annotations: map[string]string{IDAnnotation: "c1"}}
	cg := Resource{Stage: "cg-limit", Kind: "cgroup", Name: "/ctrkit/c1", Undo: []string{"cg-limit", "rm", "c1"}}
	mnt := Resource{Stage: "fs-layer", Kind: "mount", Name: "/x"}
	for _, r := range []Resource{mnt, cg} {
		if err := Record(s, state, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := Forget(state, "c1", "cg-limit", "/ctrkit/c1"); err != nil {
		t.Fatalf("Forget() = %v", err)
	}
	if rs, _ := StateResources(state, "c1"); !cmp.Equal(rs, []Resource{mnt}) {
		t.Errorf("after Forget(cgroup): %v, want only %v", rs, mnt)
	}
	if err := Forget(state, "c1", "fs-layer", "/x"); err != nil {
		t.Fatalf("Forget() = %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "c1")); !os.IsNotExist(err) {
		t.Errorf("STATE/c1 after forgetting everything: %v, want it gone", err)
	}
	if err := Forget(state, "none", "cg-limit", "/ctrkit/none"); err != nil {
		t.Errorf("Forget(no state) = %v, want nil", err)
	}
}
