package main

import (
	"bytes"
	"strings"
	"testing"

	"ctrkit/internal/cli"
)

// TestUsage runs ctr-run as a shell would: a mistyped flag gets kong's
// suggestion and one usage line, not the whole help, and exit 80.
func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run([]string{"run", "--memroy", "64m", "busybox"}, nil, &stdout, &stderr)
	code := cli.Status("ctr-run", &stderr, err)
	all := stdout.String() + stderr.String()
	if code != 80 || !strings.Contains(all, `did you mean "--memory"`) {
		t.Errorf("ctr-run run --memroy: exit %d, output %q; want 80 and a suggestion", code, all)
	}
	if n := strings.Count(all, "\n"); n > 6 {
		t.Errorf("ctr-run run --memroy printed %d lines, want a short usage:\n%s", n, all)
	}
	stdout.Reset()
	if err := run([]string{"--help"}, nil, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "serve") {
		t.Errorf("ctr-run --help: %v, %q; want the verbs, serve among them", err, stdout.String())
	}
}

// TestPs lists the containers of an empty state dir through the streams
// run is given: the header on stdout, nothing on stderr.
func TestPs(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run([]string{"--state", t.TempDir(), "ps", "-a"}, nil, &stdout, &stderr)
	if code := cli.Status("ctr-run", &stderr, err); code != 0 || !strings.HasPrefix(stdout.String(), "CONTAINER ID") || strings.Count(stdout.String(), "\n") != 1 || stderr.Len() != 0 {
		t.Errorf("ctr-run ps -a (no containers) = exit %d, stdout %q, stderr %q; want the header alone", code, stdout.String(), stderr.String())
	}
}
