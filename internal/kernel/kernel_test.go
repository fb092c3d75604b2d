package kernel

import "testing"

func TestAtLeast(t *testing.T) {
	for _, tc := range []struct {
		release string
		want    bool
	}{
		{"6.1.0-18-amd64", true},
		{"5.7.0", true},
		{"5.10.209-1", true},
		{"5.6.19", false},
		{"4.18.0-553.el8_10.x86_64", false},
		{"", false},
		{"unknown", false},
	} {
		if got := atLeast(tc.release, 5, 7); got != tc.want {
			t.Errorf("atLeast(%q, 5, 7) = %v, want %v", tc.release, got, tc.want)
		}
	}
	if !CloneIntoCgroup() {
		t.Logf("this kernel (%s) has no CLONE_INTO_CGROUP", release())
	}
}
