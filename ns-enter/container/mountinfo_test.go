package container

import (
	"strings"
	"testing"

	"ctrkit/internal/mountinfo"
)

const sampleMountInfo = `22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:25 / /proc rw,nosuid - proc proc rw
40 22 254:0 /tmp/r /tmp/my\040root rw,relatime - ext4 /dev/vda rw
`

func TestDiagnosePivot(t *testing.T) {
	tests := []struct {
		mountinfo, root, want string
	}{
		{sampleMountInfo, "/tmp/my root", "/ has shared propagation"},
		{sampleMountInfo, "/tmp/other", "is not a mount point"},
		{strings.Replace(sampleMountInfo, "shared:1 - ext4", "- rootfs", 1), "/tmp/my root", "initramfs"},
		{strings.Replace(sampleMountInfo, "shared:1 ", "", 1), "/tmp/my root", "no shared propagation"},
	}
	for _, tt := range tests {
		got := diagnosePivot(mountinfo.Parse(strings.NewReader(tt.mountinfo)), tt.root)
		if !strings.Contains(got, tt.want) {
			t.Errorf("diagnosePivot(%q) = %q, want it to say %q", tt.root, got, tt.want)
		}
	}
}
