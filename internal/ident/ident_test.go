package ident

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, tt := range []struct {
		s    string
		max  int
		want bool
	}{
		{"web", 0, true},
		{"a1_b.c-d", 0, true},
		{"9", 64, true},
		{strings.Repeat("a", 64), 64, true},
		{strings.Repeat("a", 65), 64, false},
		{strings.Repeat("a", 500), 0, true},
		{"", 0, false},
		{"-web", 0, false},
		{".hidden", 0, false},
		{"_x", 0, false},
		{"a/b", 0, false},
		{"a b", 0, false},
		{"é", 0, false},
		{"..", 0, false},
	} {
		if got := Valid(tt.s, tt.max); got != tt.want {
			t.Errorf("Valid(%q, %d) = %v, want %v", tt.s, tt.max, got, tt.want)
		}
	}
}
