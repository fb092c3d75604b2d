package container

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib"), 0o755)
	os.Symlink("/usr/lib", filepath.Join(root, "lib"))
	os.Symlink("../../../../etc", filepath.Join(root, "usr/escape"))
	os.Symlink("lib/x", filepath.Join(root, "usr/rel"))
	os.Symlink("loop", filepath.Join(root, "loop"))
	tests := []struct{ in, want string }{
		{"/", root},
		{"/proc", root + "/proc"},
		{"/lib/modules", root + "/usr/lib/modules"},
		{"/../../etc/passwd", root + "/etc/passwd"},
		{"/usr/escape/shadow", root + "/etc/shadow"},
		{"/usr/rel", root + "/usr/lib/x"},
		{"usr/./lib/", root + "/usr/lib"},
	}
	for _, tt := range tests {
		got, err := inRoot(root, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("inRoot(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := inRoot(root, "/loop/x"); err == nil {
		t.Errorf("inRoot(%q) error = nil, want too many levels of symbolic links", "/loop/x")
	}
}

func TestParseMountOptions(t *testing.T) {
	flags, prop, data := parseMountOptions([]string{"nosuid", "strictatime", "mode=755", "size=65536k", "rprivate", "ro", "rw"})
	if flags != unix.MS_NOSUID|unix.MS_STRICTATIME || prop != unix.MS_PRIVATE|unix.MS_REC || data != "mode=755,size=65536k" {
		t.Errorf("parseMountOptions = %s, %s, %q, want MS_NOSUID|MS_STRICTATIME, MS_REC|MS_PRIVATE, %q",
			MountFlagNames(flags), MountFlagNames(prop), data, "mode=755,size=65536k")
	}
}

func TestMountCommand(t *testing.T) {
	tests := []struct {
		source, target, fstype string
		flags                  uintptr
		data                   string
		want                   string
	}{
		{"proc", "/r/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "", "mount -t proc -o nosuid,nodev,noexec proc /r/proc"},
		{"/r", "/r", "", unix.MS_BIND | unix.MS_REC, "", "mount --rbind /r /r"},
		{"/src", "/dst", "", unix.MS_BIND, "", "mount --bind /src /dst"},
		{"", "/", "", unix.MS_REC | unix.MS_PRIVATE, "", "mount --make-rprivate /"},
		{"", "/r/sys", "", unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY, "", "mount -o bind,ro,remount /r/sys"},
		{"tmpfs", "/r/dev", "tmpfs", unix.MS_NOSUID | unix.MS_STRICTATIME, "mode=755,size=65536k", "mount -t tmpfs -o nosuid,strictatime,mode=755,size=65536k tmpfs /r/dev"},
	}
	for _, tt := range tests {
		if got := mountCommand(tt.source, tt.target, tt.fstype, tt.flags, tt.data); got != tt.want {
			t.Errorf("mountCommand(%q, %q, %q, %s, %q) = %q, want %q", tt.source, tt.target, tt.fstype, MountFlagNames(tt.flags), tt.data, got, tt.want)
		}
	}
}
