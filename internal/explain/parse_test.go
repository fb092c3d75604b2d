package explain

import (
	"bytes"
	"strings"
	"testing"
)

// Parse reads back what Step, Note and File print.
func TestParse(t *testing.T) {
	var b bytes.Buffer
	l := New("fs-layer", &b, true)
	l.Step(`mkdir("/x", 0755)`, "mkdir -p /x")
	l.Step("", "ip netns add x")
	l.Note("a note")
	l.File(`write("/h")`, "/h", []byte("one\n"))
	want := []Line{
		{Tool: "fs-layer", Kernel: `mkdir("/x", 0755)`, Shell: "mkdir -p /x"},
		{Tool: "fs-layer", Shell: "ip netns add x"},
		{Tool: "fs-layer", Note: "a note"},
		{Tool: "fs-layer", Kernel: `write("/h")`, Shell: "cat > /h <<'EOF'"},
		{Tool: "fs-layer", Content: true},
		{Tool: "fs-layer", Content: true},
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, s := range lines {
		got, ok := Parse(s)
		if !ok || got != want[i] {
			t.Errorf("Parse(%q) = %+v, %v, want %+v, true", s, got, ok, want[i])
		}
	}
	if got := want[0].Call(); got != "mkdir" {
		t.Errorf("Call() = %q, want mkdir", got)
	}
	for _, s := range []string{"hello", "[1] x", "[Tool] x", "[ns-enter]x"} {
		if _, ok := Parse(s); ok {
			t.Errorf("Parse(%q) = ok, want not an explain line", s)
		}
	}
}
