package lifecycle

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJSONLog writes both streams as json-file records and reads them
// back: lines whole, streams apart, a long line cut at 16 KiB, a last line
// without a newline kept, an old plain line read as stdout.
func TestJSONLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("plain old line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := OpenLog(path, LogOpts{})
	if err != nil {
		t.Fatal(err)
	}
	out, errs := w.Stream("stdout"), w.Stream("stderr")
	out.Write([]byte("hel"))
	errs.Write([]byte("oops\n"))
	out.Write([]byte("lo\nwor"))
	out.Write([]byte(strings.Repeat("x", maxRecord+10) + "\n"))
	out.Write([]byte("tail"))
	out.Close()
	errs.Close()
	w.Close()

	var got []string
	before := time.Now().Add(-time.Minute)
	d := &logDecoder{sink: func(stream string, ts time.Time, line []byte) error {
		if stream != "stdout" || !bytes.HasPrefix(line, []byte("plain")) {
			if ts.Before(before) {
				t.Errorf("line %q has time %v", line, ts)
			}
		}
		if len(line) > 20 {
			line = []byte(string(line[:3]) + "…" + string(rune('0'+len(line)%10)))
		}
		got = append(got, stream+":"+string(line))
		return nil
	}}
	data, _ := os.ReadFile(path)
	for len(data) > 0 { // in odd-sized pieces, as a follow reads them
		n := min(7, len(data))
		d.Write(data[:n])
		data = data[n:]
	}
	want := []string{"stdout:plain old line\n", "stderr:oops\n", "stdout:hello\n",
		"stdout:wor…4", "stdout:" + strings.Repeat("x", 13) + "\n", "stdout:tail"} // 16384 bytes, then the rest
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("records read back:\n got %q\nwant %q", got, want)
	}
}
