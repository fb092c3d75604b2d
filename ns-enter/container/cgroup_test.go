package container

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStage1Join plays stage 1's constructor (setns.c, join_cgroups): it
// reads the list of "tasks" files and answers as the C code does.
func TestStage1Join(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "memory", "ctrkit", "c")
	v2 := filepath.Join(dir, "unified", "ctrkit", "c")
	for _, d := range []string{v1, v2} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(v1, "tasks"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		dirs   []string
		answer string
		list   string // what stage 1 reads
		rest   []string
		err    string
	}{
		{"v1 and v2", []string{v1, v2}, "cgroup\n", filepath.Join(v1, "tasks") + "\x00\x00", []string{v2}, ""},
		{"v2 only: an empty list", []string{v2}, "cgroup\n", "\x00", []string{v2}, ""},
		{"refused", []string{v1}, "125 write(" + filepath.Join(v1, "tasks") + "): Permission denied", filepath.Join(v1, "tasks") + "\x00\x00", nil, "Permission denied"},
		{"stage 1 gone", []string{v1}, "", filepath.Join(v1, "tasks") + "\x00\x00", nil, "ended before it joined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sendR, sendW, _ := os.Pipe()
			answerR, answerW, _ := os.Pipe()
			defer sendR.Close()
			defer answerR.Close()
			sendR.SetReadDeadline(time.Now().Add(5 * time.Second)) // a list never ended fails, not hangs
			read := make(chan string, 1)
			go func() {
				buf := make([]byte, 4096)
				n, _ := sendR.Read(buf) // one write: a whole list
				read <- string(buf[:n])
				io.WriteString(answerW, tc.answer)
				answerW.Close()
			}()
			rest, err := (&stage1Join{send: sendW, answer: answerR}).join(nil, tc.dirs)
			sendW.Close()
			if got := <-read; got != tc.list {
				t.Errorf("stage 1 read %q, want %q", got, tc.list)
			}
			if tc.err == "" && (err != nil || !slices.Equal(rest, tc.rest)) {
				t.Errorf("join() = %q, %v; want %q", rest, err, tc.rest)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Errorf("join() error = %v, want one saying %q", err, tc.err)
			}
		})
	}
}
