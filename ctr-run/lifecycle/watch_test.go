package lifecycle

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"ctrkit/internal/fsutil"
)

// A file renamed into the directory (as ns-enter writes its PID file), one
// written in place and the directory's removal (rm, docker run --rm) each
// wake the watcher; nothing is polled, so a watch that misses them times
// out.
func TestWatchDir(t *testing.T) {
	dir := t.TempDir()
	changed, stop := watchDir(dir)
	defer stop()
	if changed == nil {
		t.Skip("no inotify here")
	}
	for _, write := range []func() error{
		func() error { return fsutil.WriteFile(filepath.Join(dir, "pid"), []byte("1"), 0o644) },
		func() error { return os.WriteFile(filepath.Join(dir, "exit"), []byte("0"), 0o644) },
		func() error { return os.RemoveAll(dir) },
	} {
		if err := write(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatal("watchDir: no news of a file written in the directory, or of its removal, within 5 s")
		}
	}
	stop()
}
