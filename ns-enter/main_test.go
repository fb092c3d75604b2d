package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"ctrkit/internal/cli"
)

// TestShow lists the test's own namespaces (reading /proc/self/ns, nothing
// is made) through the streams run is given: the table on stdout, one row
// per kind.
func TestShow(t *testing.T) {
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out, errb bytes.Buffer
	err = run([]string{"show"}, in, &out, &errb)
	if code := cli.Status("ns-enter", &errb, err); code != 0 {
		t.Fatalf("ns-enter show = exit %d, stderr %q", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 7 || !strings.HasPrefix(lines[0], "NS") || !strings.Contains(out.String(), "\nmnt ") {
		t.Errorf("ns-enter show: stdout %q; want the header and a row per namespace kind (mnt among them)", out.String())
	}
	errb.Reset()
	if err := run([]string{"show", "--explain"}, in, &out, &errb); err != nil || !strings.Contains(errb.String(), "ls -l /proc/") {
		t.Errorf("ns-enter show --explain: %v, stderr %q; want the shell step on stderr", err, errb.String())
	}
}
