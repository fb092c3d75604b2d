package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"ctrkit/internal/cli"
)

// runCG calls cg-limit as a shell would call the binary, stdin /dev/null:
// arguments in, streams and exit status out.
func runCG(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out, errb bytes.Buffer
	err = run(append([]string{"--state", t.TempDir()}, args...), in, &out, &errb)
	code = cli.Status("cg-limit", &errb, err)
	return out.String(), errb.String(), code
}

// TestInfo reads how this host mounts cgroups (nothing is written) through
// run's stdout, the seam every verb now prints through.
func TestInfo(t *testing.T) {
	if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
		t.Skip("no /sys/fs/cgroup here")
	}
	out, errs, code := runCG(t, "info", "--format", "json")
	var info struct {
		Mode  string `json:"mode"`
		Flags []struct {
			Flag string `json:"flag"`
		} `json:"flags"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.Mode == "" || len(info.Flags) == 0 {
		t.Errorf("cg-limit info --format json = exit %d, stdout %q, stderr %q; want a mode and the flags as JSON on stdout", code, out, errs)
	}
}

// TestApplyWithoutSpec: the pipe stage with nothing on stdin fails with a
// hint on stderr, exit 1, and writes nothing to stdout; run with a
// command that does not exist fails with 127.
func TestApplyWithoutSpec(t *testing.T) {
	out, errs, code := runCG(t, "-m", "64m")
	if code != 1 || out != "" || !strings.Contains(errs, "no runtime spec on stdin") {
		t.Errorf("cg-limit -m 64m </dev/null = exit %d, stdout %q, stderr %q; want 1, nothing, the hint", code, out, errs)
	}
	out, errs, code = runCG(t, "run", "--", "/nonexistent/ck-cmd")
	if code != 127 || out != "" || !strings.Contains(errs, "/nonexistent/ck-cmd") {
		t.Errorf("cg-limit run -- /nonexistent/ck-cmd = exit %d, stdout %q, stderr %q; want 127, like docker run, before any cgroup is made", code, out, errs)
	}
}
