package mountinfo

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	in := `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:25 / /proc rw,nosuid - proc proc rw
31 22 0:26 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu
40 22 254:0 /tmp/r /tmp/my\040root rw,relatime - ext4 /dev/vda rw
garbage
`
	want := []Mount{
		{ID: "22", Parent: "1", Mountpoint: "/", Optional: "shared:1", FSType: "ext4", Source: "/dev/vda", SuperOptions: "rw"},
		{ID: "30", Parent: "22", Mountpoint: "/proc", FSType: "proc", Source: "proc", SuperOptions: "rw"},
		{ID: "31", Parent: "22", Mountpoint: "/sys/fs/cgroup/cpu", FSType: "cgroup", Source: "cgroup", SuperOptions: "rw,cpu"},
		{ID: "40", Parent: "22", Mountpoint: "/tmp/my root", FSType: "ext4", Source: "/dev/vda", SuperOptions: "rw"},
	}
	if diff := cmp.Diff(want, Parse(strings.NewReader(in))); diff != "" {
		t.Errorf("Parse mismatch (-want +got):\n%s", diff)
	}
}

func TestReadSelf(t *testing.T) {
	ms, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := IsMountpoint("/proc"); !ok {
		t.Errorf("IsMountpoint(/proc) = false, want true (mounts: %d)", len(ms))
	}
	if ok, _ := IsMountpoint(os.TempDir() + "/surely-not-a-mount"); ok {
		t.Errorf("IsMountpoint of a missing path = true, want false")
	}
	if m, _ := Below("/"); m == "" {
		t.Errorf("Below(/) = \"\", want a mount such as /proc")
	}
	if m, _ := Below(t.TempDir()); m != "" {
		t.Errorf("Below(a fresh temp dir) = %q, want \"\"", m)
	}
}
