package explain

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestStep(t *testing.T) {
	tests := []struct {
		kernel, shell, want string
	}{
		{`sethostname("box")`, "hostname box", "[t] sethostname(\"box\")  $ hostname box\n"},
		{`pivot_root(".", ".")`, "", "[t] pivot_root(\".\", \".\")\n"},
		{"", "ip link show", "[t] $ ip link show\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		New("t", &b, true).Step(tt.kernel, tt.shell)
		if b.String() != tt.want {
			t.Errorf("Step(%q, %q) = %q, want %q", tt.kernel, tt.shell, b.String(), tt.want)
		}
	}
}

func TestSilentByDefault(t *testing.T) {
	var b bytes.Buffer
	l := New("t", &b, false)
	l.Step("x", "y")
	l.Note("z")
	if b.Len() != 0 || l.Enabled() {
		t.Errorf("New(on=false) printed %q, want nothing", b.String())
	}
}

func TestQuote(t *testing.T) {
	tests := map[string]string{
		"abc":       "abc",
		"/a/b.c":    "/a/b.c",
		"":          "''",
		"a b":       "'a b'",
		"it's":      `'it'\''s'`,
		"0 1000 1":  "'0 1000 1'",
		"$HOME":     "'$HOME'",
		"k=v,x:y+z": "k=v,x:y+z",
	}
	for in, want := range tests {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFileReplays checks that a File step, put through the sed of the
// package doc and run by sh, writes the same bytes.
func TestFileReplays(t *testing.T) {
	for _, content := range []string{"nameserver 10.0.0.1\nsearch lan\n", "", "no newline", "$HOME `x` 'q'\n\n"} {
		path := filepath.Join(t.TempDir(), "f")
		var b bytes.Buffer
		New("t", &b, true).File(`write("f")`, path, []byte(content))
		sed := exec.Command("sed", "-n", "-e", `s/^\[[a-z-]*\] > //p`, "-e", `s/^\[[a-z-]*\] \(.*  \)\{0,1\}\$ //p`)
		sed.Stdin = &b
		script, err := sed.Output()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("sh", "-c", string(script)).CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v: %s", script, err, out)
		}
		got, _ := os.ReadFile(path)
		want := strings.TrimSuffix(content, "\n") + "\n"
		if content == "" {
			want = ""
		}
		if string(got) != want {
			t.Errorf("File(%q) replayed to %q, want %q", content, got, want)
		}
	}
}
