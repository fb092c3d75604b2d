package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParseTimeOffsets(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]specs.LinuxTimeOffset
		ok   bool
	}{
		{"monotonic=86400", map[string]specs.LinuxTimeOffset{"monotonic": {Secs: 86400}}, true},
		{"boottime=24h,monotonic=1.5s", map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400}, "monotonic": {Secs: 1, Nanosecs: 5e8}}, true},
		{"boottime=-1.5s", map[string]specs.LinuxTimeOffset{"boottime": {Secs: -2, Nanosecs: 5e8}}, true},
		{"realtime=5", nil, false},
		{"monotonic", nil, false},
		{"monotonic=soon", nil, false},
	} {
		got, err := parseTimeOffsets(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseTimeOffsets(%q) error = %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && !cmp.Equal(got, tc.want) {
			t.Errorf("parseTimeOffsets(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
