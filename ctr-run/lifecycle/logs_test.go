package lifecycle

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseLogOpts(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want LogOpts
		ok   bool
	}{
		{nil, DefaultLog, true},
		{[]string{"max-size=10k", "max-file=3"}, LogOpts{10 << 10, 3}, true},
		{[]string{"max-size=2m"}, LogOpts{2 << 20, 5}, true},
		{[]string{"max-size=0"}, DefaultLog, false},
		{[]string{"max-file=0"}, DefaultLog, false},
		{[]string{"mode=non-blocking"}, DefaultLog, false},
	} {
		got, err := ParseLogOpts(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseLogOpts(%q) = %v, %v, want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseRestart(t *testing.T) {
	for _, tc := range []struct {
		in             string
		status, n      int
		again, wantErr bool
	}{
		{"", 1, 0, false, false},
		{"no", 1, 0, false, false},
		{"always", 0, 100, true, false},
		{"unless-stopped", 0, 0, true, false},
		{"on-failure", 0, 0, false, false},
		{"on-failure", 1, 50, true, false},
		{"on-failure:2", 1, 1, true, false},
		{"on-failure:2", 1, 2, false, false},
		{"on-failure:x", 0, 0, false, true},
		{"always:3", 0, 0, false, true},
		{"sometimes", 0, 0, false, true},
	} {
		p, err := ParseRestart(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("ParseRestart(%q) error %v, want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if err == nil && p.Again(tc.status, tc.n) != tc.again {
			t.Errorf("ParseRestart(%q).Again(%d, %d) = %v, want %v", tc.in, tc.status, tc.n, !tc.again, tc.again)
		}
	}
}

func TestRotatingLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	w, err := OpenLog(path, LogOpts{MaxSize: 100, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for i := 0; i < 100; i++ {
		line := fmt.Sprintf("line %03d\n", i) // 9 bytes
		all.WriteString(line)
		w.Write([]byte(line))
	}
	w.Close()
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("%d files, want 3 (log, log.1, log.2)", len(ents))
	}
	for _, e := range ents {
		if fi, _ := e.Info(); fi.Size() > 100 {
			t.Errorf("%s is %d bytes, want ≤ 100", e.Name(), fi.Size())
		}
	}
	c := &Container{Meta: Meta{Name: "t"}, Dir: dir}
	var out bytes.Buffer
	if err := c.Logs(&out, false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(all.String(), out.String()) || out.Len() < 200 {
		t.Errorf("Logs = %d bytes, not the last %d of what was written", out.Len(), out.Len())
	}
}

// TestNewerLogs: the files newer than the one a follower holds, oldest
// first, after two rotations.
func TestNewerLogs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	w, err := OpenLog(path, LogOpts{MaxSize: 1, MaxFiles: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write([]byte("a\n"))
	f, err := os.Open(path) // held open, as a follower holds it: its inode stays its own
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w.Write([]byte("b\n"))
	w.Write([]byte("c\n"))
	files, err := newerLogs(path, inode(f)) // a is log.2 now: b (log.1), c (log)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		b, _ := io.ReadAll(f)
		f.Close()
		got = append(got, string(b))
	}
	if !slices.Equal(got, []string{"b\n", "c\n"}) {
		t.Errorf("newerLogs after two rotations = %q, want [b c]", got)
	}
}
