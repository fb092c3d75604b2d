package imagespec

import "testing"

func TestLookup(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\nbad:x:oops:0::/:/bin/sh\nshort\n")
	group := []byte("root:x:0:\nstaff:x:50:app\n")
	for _, tc := range []struct {
		data          []byte
		file, name    string
		id, gid       uint32
		ok, wantError bool
	}{
		{passwd, "etc/passwd", "app", 1000, 1001, true, false},
		{passwd, "etc/passwd", "root", 0, 0, true, false},
		{passwd, "etc/passwd", "nobody", 0, 0, false, false},
		{passwd, "etc/passwd", "bad", 0, 0, false, true}, // not uid 0
		{group, "etc/group", "staff", 50, 0, true, false},
		{nil, "etc/group", "staff", 0, 0, false, false},
	} {
		id, gid, ok, err := Lookup(tc.data, tc.file, tc.name)
		if id != tc.id || gid != tc.gid || ok != tc.ok || (err != nil) != tc.wantError {
			t.Errorf("Lookup(%s, %q) = %d, %d, %v, %v; want %d, %d, %v, error %v", tc.file, tc.name, id, gid, ok, err, tc.id, tc.gid, tc.ok, tc.wantError)
		}
	}
}
