package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"ctrkit/internal/cli"
)

// run is called as a shell would call the binary: arguments in, streams
// out. Only builds without RUN are done here (RUN needs root and the
// sibling commands; bats/80-img-build.bats runs those).
func runIB(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	err = run(args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), err
}

func TestRunBuild(t *testing.T) {
	root, ctx := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nARG V\nCOPY a /a\nLABEL v=$V\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "a"), []byte("A"), 0o644)
	out, stderr, err := runIB(t, "--root", root, "--state", t.TempDir(), "-t", "x:1", "-t", "x:2", "--build-arg", "V=1", ctx)
	if err != nil {
		t.Fatalf("run(build) = %v\n%s", err, stderr)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`).MatchString(out) {
		t.Errorf("run(build) stdout = %q, want the digest alone", out)
	}
	if want := "4 steps, 0 cached, 0 RUN executed; image " + strings.TrimSpace(out) + " tagged docker.io/library/x:1, docker.io/library/x:2"; !strings.Contains(stderr, want) {
		t.Errorf("run(build) stderr = %q, want it to contain %q", stderr, want)
	}
	// again, with --explain: the same digest, the COPY from the cache
	again, stderr, err := runIB(t, "--root", root, "--explain", "build", "-t", "x:1", "--build-arg", "V=1", ctx)
	if err != nil || again != out || !strings.Contains(stderr, "[img-build] # cache hit") {
		t.Errorf("run(build again) = %q, %v, want %q and a cache hit in:\n%s", again, err, out, stderr)
	}
}

func TestRunErrors(t *testing.T) {
	root, ctx, good := t.TempDir(), t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM scratch\nRUNN x\n"), 0o644)
	os.WriteFile(filepath.Join(good, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{ctx}, `Dockerfile:2: unknown instruction "RUNN"`, 1},
		{[]string{"--push", ctx}, "Dockerfile:2", 1},
		{[]string{"-t", "UPPER:case", good}, "-t UPPER:case", 1},
		{[]string{"--build-arg", "CK_SURELY_UNSET_VAR", good}, "--build-arg CK_SURELY_UNSET_VAR: no value", 1},
		{[]string{"push", "nothing:here"}, "nothing:here", 1},
		{[]string{"--bogus"}, "unknown flag --bogus", 80},
		{[]string{filepath.Join(ctx, "nope")}, "no such file", 80},
	} {
		_, stderr, err := runIB(t, append([]string{"--root", root}, tc.args...)...)
		var msg bytes.Buffer
		code := cli.Status("img-build", &msg, err)
		if code != tc.code || !strings.Contains(stderr+msg.String(), tc.want) {
			t.Errorf("img-build %q: exit %d, stderr %q; want exit %d and %q", tc.args, code, stderr+msg.String(), tc.code, tc.want)
		}
	}
	if _, _, err := runIB(t, "--root", root, "--push", good); err == nil || !strings.Contains(err.Error(), "--push needs -t") {
		t.Errorf("img-build --push without -t = %v, want --push needs -t", err)
	}
}

func TestRunHelp(t *testing.T) {
	out, _, err := runIB(t, "--help")
	if err != nil || !strings.Contains(out, "Usage: img-build") {
		t.Errorf("img-build --help = %v, stdout %q; want nil and the usage", err, out)
	}
}
