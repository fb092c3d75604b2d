package namespace

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestByName(t *testing.T) {
	tests := []struct {
		in   string
		want specs.LinuxNamespaceType
	}{
		{"net", specs.NetworkNamespace},
		{"network", specs.NetworkNamespace},
		{"mnt", specs.MountNamespace},
		{"mount", specs.MountNamespace},
		{"pid", specs.PIDNamespace},
		{"user", specs.UserNamespace},
	}
	for _, tt := range tests {
		k, err := ByName(tt.in)
		if err != nil || k.OCI != tt.want {
			t.Errorf("ByName(%q) = %v, %v, want %v", tt.in, k.OCI, err, tt.want)
		}
	}
	if _, err := ByName("time-travel"); err == nil || !strings.Contains(err.Error(), "use one of") {
		t.Errorf("ByName(%q) error = %v, want a list of kinds", "time-travel", err)
	}
}

// TestTableMatchesKernel checks every kind against the running kernel: its
// /proc file exists and names a namespace of that kind.
func TestTableMatchesKernel(t *testing.T) {
	for _, k := range Kinds {
		link, err := os.Readlink(k.Path(os.Getpid()))
		if err != nil {
			t.Errorf("Readlink(%s): %v", k.Path(os.Getpid()), err)
			continue
		}
		if !strings.HasPrefix(link, k.Proc+":[") {
			t.Errorf("Readlink(%s) = %q, want %s:[inode]", k.Path(os.Getpid()), link, k.Proc)
		}
	}
}

func TestFlagNames(t *testing.T) {
	tests := []struct {
		flags uintptr
		want  string
	}{
		{0, "0"},
		{unix.CLONE_NEWPID | unix.CLONE_NEWNS, "CLONE_NEWPID|CLONE_NEWNS"},
		{unix.CLONE_NEWUSER | unix.CLONE_NEWNET | 0x1, "CLONE_NEWUSER|CLONE_NEWNET|0x1"},
	}
	for _, tt := range tests {
		if got := FlagNames(tt.flags); got != tt.want {
			t.Errorf("FlagNames(%#x) = %q, want %q", tt.flags, got, tt.want)
		}
	}
}

func TestParseIDMap(t *testing.T) {
	tests := []struct {
		in      string
		want    specs.LinuxIDMapping
		wantErr string
	}{
		{"0 100000 65536", specs.LinuxIDMapping{ContainerID: 0, HostID: 100000, Size: 65536}, ""},
		{"0:1000:1", specs.LinuxIDMapping{ContainerID: 0, HostID: 1000, Size: 1}, ""},
		{"0 1000", specs.LinuxIDMapping{}, "want \"INSIDE OUTSIDE COUNT\""},
		{"0 x 1", specs.LinuxIDMapping{}, "is not an id"},
		{"0 -1 1", specs.LinuxIDMapping{}, "is not an id"},
		{"0 0 0", specs.LinuxIDMapping{}, "COUNT must be at least 1"},
		{"4294967290 0 10", specs.LinuxIDMapping{}, "runs past"},
	}
	for _, tt := range tests {
		got, err := ParseIDMap(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseIDMap(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseIDMap(%q) error = %v", tt.in, err)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseIDMap(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestCheckIDMaps(t *testing.T) {
	m := func(in, out, n uint32) specs.LinuxIDMapping {
		return specs.LinuxIDMapping{ContainerID: in, HostID: out, Size: n}
	}
	tests := []struct {
		maps    []specs.LinuxIDMapping
		wantErr string
	}{
		{[]specs.LinuxIDMapping{m(0, 100000, 1000), m(1000, 200000, 1000)}, ""},
		{[]specs.LinuxIDMapping{m(0, 100000, 1000), m(999, 200000, 1)}, "overlap inside"},
		{[]specs.LinuxIDMapping{m(0, 100000, 1000), m(5000, 100500, 1)}, "overlap on the host"},
		{make([]specs.LinuxIDMapping, 341), "at most 340"},
	}
	for _, tt := range tests {
		err := CheckIDMaps("uid map", tt.maps)
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("CheckIDMaps(%v) = %v, want %q", tt.maps[:min(2, len(tt.maps))], err, tt.wantErr)
		}
	}
}

func TestOfSelf(t *testing.T) {
	es, err := Of(os.Getpid())
	if err != nil {
		t.Fatalf("Of(self) error = %v", err)
	}
	if len(es) != len(Kinds) {
		t.Errorf("Of(self) listed %d namespaces, want %d", len(es), len(Kinds))
	}
	if _, err := Of(1 << 30); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("Of(1<<30) error = %v, want not found", err)
	}
}

func TestHostID(t *testing.T) {
	ms := []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 2000}, {ContainerID: 5000, HostID: 300000, Size: 10}}
	tests := []struct {
		id   uint32
		want uint32
		ok   bool
	}{{0, 1000, true}, {1999, 2999, true}, {2000, 0, false}, {5009, 300009, true}}
	for _, tt := range tests {
		if got, ok := HostID(ms, tt.id); got != tt.want || ok != tt.ok {
			t.Errorf("HostID(%d) = %d, %v, want %d, %v", tt.id, got, ok, tt.want, tt.ok)
		}
	}
}

func TestByFlag(t *testing.T) {
	for _, k := range Kinds {
		if got := ByFlag(k.Flag); got.Name != k.Name {
			t.Errorf("ByFlag(%#x) = %q, want %q", k.Flag, got.Name, k.Name)
		}
	}
	if got := ByFlag(1); got.Name != "?" {
		t.Errorf("ByFlag(1) = %q, want ?", got.Name)
	}
}
