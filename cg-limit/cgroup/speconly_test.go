package cgroup

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSpecOnlyFields(t *testing.T) {
	v1, v2 := hosts(t)
	v2.V2["hugetlb"] = true
	swappiness, kernel, classID := uint64(10), int64(1<<20), uint32(0x100001)
	off := true
	r := &specs.LinuxResources{
		Memory:         &specs.LinuxMemory{Swappiness: &swappiness, DisableOOMKiller: &off, KernelTCP: &kernel},
		HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 20}},
	}
	withNet := *r
	withNet.Network = &specs.LinuxNetwork{ClassID: &classID}

	// The hybrid test host has no hugetlb hierarchy: a clear refusal; nor
	// does it use hugetlb from its v2 tree (that would change the host).
	if _, err := v1.Settings(r); err == nil || !strings.Contains(err.Error(), "hugepageLimits") {
		t.Errorf("v1 without hugetlb: err = %v, want one naming hugepageLimits", err)
	}
	v1.V2["hugetlb"] = true
	if _, err := v1.Settings(r); err == nil || !strings.Contains(err.Error(), "hybrid") {
		t.Errorf("hybrid with hugetlb in v2 only: err = %v, want a refusal", err)
	}
	noHuge := withNet
	noHuge.HugepageLimits = nil
	got, err := v1.Settings(&noHuge)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"memory.swappiness=10", "memory.oom_control=1",
		"memory.kmem.tcp.limit_in_bytes=1048576?",
		"net_cls.classid=1048577",
	}
	if diff := cmp.Diff(want, writes(got)); diff != "" {
		t.Errorf("v1 settings (-want +got):\n%s", diff)
	}

	// v2: the v1-only memory fields are noted, hugetlb has its .max file,
	// and net_cls is refused with the v2 alternative.
	got, err = v2.Settings(r)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		"memory.swappiness (ignored)", "memory.oom_control (ignored)",
		"memory.kmem.tcp.limit_in_bytes (ignored)",
		"hugetlb.2MB.max=4194304",
	}
	if diff := cmp.Diff(want, writes(got)); diff != "" {
		t.Errorf("v2 settings (-want +got):\n%s", diff)
	}
	if _, err := v2.Settings(&withNet); err == nil || !strings.Contains(err.Error(), "net_cls") {
		t.Errorf("v2 classID: err = %v, want a refusal naming net_cls", err)
	}

	big := uint64(101)
	if _, err := v1.Settings(&specs.LinuxResources{Memory: &specs.LinuxMemory{Swappiness: &big}}); err == nil {
		t.Errorf("swappiness 101 accepted")
	}
}

// writes shows settings as FILE=VALUE, "?" marking optional ones.
func writes(ss []Setting) []string {
	var out []string
	for _, s := range ss {
		w := s.File + "=" + s.Value
		switch {
		case s.Ignored:
			w = s.File + " (ignored)"
		case s.Optional:
			w += "?"
		}
		out = append(out, w)
	}
	return out
}
