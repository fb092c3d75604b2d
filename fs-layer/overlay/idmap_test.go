package overlay

import "testing"

func TestParseIDMap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want IDMap
		ok   bool
	}{
		{"0 100000 65536", IDMap{0, 100000, 65536}, true},
		{"0:100000:65536", IDMap{0, 100000, 65536}, true},
		{"1 100000 65536", IDMap{}, false}, // root must be mapped
		{"0 100000 0", IDMap{}, false},
		{"0 100000", IDMap{}, false},
		{"0 x 1", IDMap{}, false},
	} {
		got, err := ParseIDMap(tc.in)
		if (err == nil) != tc.ok || tc.ok && got != tc.want {
			t.Errorf("ParseIDMap(%q) = %v, %v, want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
