package sibling

import (
	"slices"
	"testing"
)

func TestOneP(t *testing.T) {
	for _, tt := range []struct {
		env, want []string
	}{
		{nil, []string{"GOMAXPROCS=1"}},
		{[]string{"PATH=/bin"}, []string{"PATH=/bin", "GOMAXPROCS=1"}},
		{[]string{"GOMAXPROCS=4", "PATH=/bin"}, []string{"GOMAXPROCS=4", "PATH=/bin"}}, // the caller's stays
	} {
		if got := OneP(tt.env); !slices.Equal(got, tt.want) {
			t.Errorf("OneP(%q) = %q, want %q", tt.env, got, tt.want)
		}
	}
	// The caller's slice is not written into, whatever room it has.
	env := make([]string, 1, 4)
	env[0] = "PATH=/bin"
	_ = OneP(env)
	if extra := env[:2][1]; extra != "" {
		t.Errorf("OneP wrote %q into the caller's array", extra)
	}
}
