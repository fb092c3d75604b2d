package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	for _, tt := range []struct {
		err    error
		code   int
		stderr string
	}{
		{nil, 0, ""},
		{errors.New(`no network "x"`), 1, "tool: error: no network \"x\"\n"},
		{errors.New("two\nlines"), 1, "tool: error: two\n             lines\n"},
		{&ExitError{Code: 1}, 1, ""},
		{&ExitError{Code: 125, Err: errors.New("broken")}, 125, "tool: broken\n"},
	} {
		var b bytes.Buffer
		if code := Status("tool", &b, tt.err); code != tt.code || b.String() != tt.stderr {
			t.Errorf("Status(%v) = %d, printing %q, want %d, %q", tt.err, code, b.String(), tt.code, tt.stderr)
		}
	}
}

type verb struct {
	Name string `arg:""`
}

func (v *verb) Run(out *bytes.Buffer) error {
	if v.Name == "fail" {
		return errors.New("failed")
	}
	out.WriteString("hi " + v.Name)
	return nil
}

func TestMain(t *testing.T) {
	var g struct {
		Say verb `cmd:""`
	}
	var out, stdout, stderr bytes.Buffer
	if err := Main("tool", "d", &g, []string{"say", "you"}, &stdout, &stderr, &out); err != nil || out.String() != "hi you" {
		t.Errorf("Main(say you) = %v, wrote %q, want nil and %q", err, out.String(), "hi you")
	}
	if err := Main("tool", "d", &g, []string{"--help"}, &stdout, &stderr, &out); err != nil || !strings.Contains(stdout.String(), "Usage: tool") {
		t.Errorf("Main(--help) = %v, stdout %q, want nil and the usage", err, stdout.String())
	}
	var e *ExitError
	stdout.Reset()
	if err := Main("tool", "d", &g, []string{"--bogus"}, &stdout, &stderr, &out); !errors.As(err, &e) || e.Code != 80 || e.Err != nil || !strings.Contains(stderr.String(), "unknown flag --bogus") {
		t.Errorf("Main(--bogus) = %v, stderr %q, want a silent exit 80 after kong's message", err, stderr.String())
	}
	if strings.Contains(stdout.String(), "Commands:") || !strings.Contains(stdout.String(), "Usage: tool") {
		t.Errorf("Main(--bogus) printed %q, want the one usage line, not the whole usage", stdout.String())
	}
	if err := Main("tool", "d", &g, []string{"say", "fail"}, &stdout, &stderr, &out); err == nil || err.Error() != "failed" {
		t.Errorf("Main(say fail) = %v, want the verb's error", err)
	}
}
