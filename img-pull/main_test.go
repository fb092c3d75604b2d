package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/cli"
)

// runIP calls img-pull as a shell would call the binary, with --root under
// the test's dir and stdin /dev/null: arguments in, streams and status out.
func runIP(t *testing.T, root string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var out, errb bytes.Buffer
	err = run(append([]string{"--root", root}, args...), in, &out, &errb)
	code = cli.Status("img-pull", &errb, err)
	return out.String(), errb.String(), code
}

// TestImportLs makes an image from a one-file tarball and lists the store:
// data (the digest, the table) on stdout, the note on stderr, each through
// the streams run was given.
func TestImportLs(t *testing.T) {
	root := t.TempDir()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "hello", Mode: 0o644, Size: 3})
	tw.Write([]byte("hi\n"))
	tw.Close()
	tarPath := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(tarPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := runIP(t, root, "ls")
	if code != 0 || !strings.HasPrefix(out, "NAME") || strings.Count(out, "\n") != 1 {
		t.Errorf("img-pull ls (empty store) = exit %d, stdout %q, stderr %q; want the header only", code, out, errs)
	}
	out, errs, code = runIP(t, root, "import", "--cmd", "/hello", tarPath, "ck-seam:1")
	if code != 0 || !strings.HasPrefix(out, "sha256:") || !strings.Contains(errs, "imported") {
		t.Errorf("img-pull import = exit %d, stdout %q, stderr %q; want the digest on stdout, the note on stderr", code, out, errs)
	}
	digest := strings.TrimSpace(out)
	out, errs, code = runIP(t, root, "ls")
	if code != 0 || !strings.Contains(out, "ck-seam:1") || !strings.Contains(out, digest[:19]) {
		t.Errorf("img-pull ls = exit %d, stdout %q, stderr %q; want ck-seam:1 with digest %s", code, out, errs, digest[:19])
	}
}
