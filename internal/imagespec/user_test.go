package imagespec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rootfs makes a root filesystem holding etc/passwd and etc/group (none
// when the content is "").
func rootfs(t *testing.T, passwd, group string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"passwd": passwd, "group": group} {
		if content == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:1000:1001:app:/home/app:/bin/sh\n" +
		"short:x:77\n" +
		"# a comment\n\n" +
		"bad:x:oops:0::/:/bin/sh\n" +
		"badgid:x:5:-1::/:/bin/sh\n" +
		"big:x:4294967296:0::/:/bin/sh\n"
	group = "root:x:0:\n" +
		"staff:x:50:app\n" +
		"audio:x:60:bob,app\n" +
		"broken:x:none:\n"
)

func TestResolve(t *testing.T) {
	dir := rootfs(t, passwd, group)
	for _, tc := range []struct {
		user string
		want IDs
	}{
		{"root", IDs{0, 0, nil}},
		// docker's rules: a user found in /etc/passwd brings its primary
		// group and, when no group is given, the groups listing it.
		{"app", IDs{1000, 1001, []uint32{50, 60}}},
		{"1000", IDs{1000, 1001, []uint32{50, 60}}},
		{"app:staff", IDs{1000, 50, nil}},
		{"app:7", IDs{1000, 7, nil}},
		{"1000:7", IDs{1000, 7, nil}},
		{"short", IDs{77, 0, nil}},
		// a uid no line has: that uid, group 0
		{"1234", IDs{1234, 0, nil}},
		{"1234:staff", IDs{1234, 50, nil}},
		{"1234:99", IDs{1234, 99, nil}},
		{"0:0", IDs{0, 0, nil}},
	} {
		got, err := Resolve(dir, tc.user)
		if err != nil || !cmp.Equal(got, tc.want) {
			t.Errorf("Resolve(%q) = %v, %v, want %v", tc.user, got, err, tc.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	dir := rootfs(t, passwd, group)
	for _, tc := range []struct {
		user, want string
	}{
		{"nobody", `no such user in the image's /etc/passwd`},
		{"app:nogroup", `no group "nogroup" in the image's /etc/group`},
		// a garbage uid or gid must never become 0 (root)
		{"bad", `/etc/passwd:6: "bad": id "oops" is not a number`},
		{"badgid", `/etc/passwd:7: "badgid": group id "-1" is not a number`},
		{"big", `"4294967296" is not a number`},
		{"app:broken", `/etc/group:4: "broken": id "none" is not a number`},
		{"-1", `no such user`},
	} {
		got, err := Resolve(dir, tc.user)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Resolve(%q) = %v, %v, want an error containing %q", tc.user, got, err, tc.want)
		}
	}
}

func TestResolveNoFiles(t *testing.T) {
	dir := rootfs(t, "", "")
	if got, err := Resolve(dir, "42:43"); err != nil || !cmp.Equal(got, IDs{UID: 42, GID: 43}) {
		t.Errorf("Resolve(42:43) without /etc/passwd = %v, %v, want {42 43}", got, err)
	}
	if _, err := Resolve(dir, "app"); err == nil {
		t.Errorf("Resolve(app) without /etc/passwd = nil error, want no such user")
	}
	if _, err := Resolve(filepath.Join(dir, "missing"), "0"); err == nil {
		t.Errorf("Resolve in a missing rootfs = nil error, want one")
	}
}

// An image's /etc/passwd that links out of its root filesystem is not
// followed to the host's file.
func TestResolveSymlinkEscape(t *testing.T) {
	outside := rootfs(t, "evil:x:0:0::/:/bin/sh\n", "")
	dir := rootfs(t, "", "")
	if err := os.Symlink(filepath.Join(outside, "etc", "passwd"), filepath.Join(dir, "etc", "passwd")); err != nil {
		t.Fatal(err)
	}
	if got, err := Resolve(dir, "evil"); err == nil {
		t.Errorf("Resolve(evil) through a symlink out of the rootfs = %v, nil; want an error", got)
	}
	rel := filepath.Join(dir, "etc", "group")
	if err := os.Symlink("../../../../../../../../"+outside+"/etc/passwd", rel); err != nil {
		t.Fatal(err)
	}
	if got, err := Resolve(dir, "0:evil"); err == nil {
		t.Errorf("Resolve(0:evil) through a relative symlink out of the rootfs = %v, nil; want an error", got)
	}
}
