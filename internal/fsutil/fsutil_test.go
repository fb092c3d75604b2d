package fsutil

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "networks.json")
	for _, content := range []string{"first\n", "second, longer\n"} {
		if err := WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatalf("WriteFile(%q) = %v", path, err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("after WriteFile(%q): content %q, %v, want %q", path, got, err, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("WriteFile(%q, 0600): mode %v, %v", path, fi.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("WriteFile left %d files in %s, want only networks.json", len(ents), dir)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
		t.Errorf("WriteFile into a missing directory: error = nil, want one")
	}
}

// TestLockRemovedByHolder: many processes-worth of goroutines count in one
// file under the lock while each also removes the lock file (and the
// directory) when it is done, as the last user does; no increment is lost.
func TestLockRemovedByHolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	counter := filepath.Join(t.TempDir(), "counter")
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := Lock(dir, "lock")
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			b, _ := os.ReadFile(counter)
			v, _ := strconv.Atoi(string(b))
			if err := WriteFile(counter, []byte(strconv.Itoa(v+1)), 0o600); err != nil {
				errs <- err
				return
			}
			// Tidy up while holding the lock, as ipam does for its last network.
			os.Remove(filepath.Join(dir, "lock"))
			os.Remove(dir)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Lock/WriteFile: %v", err)
	}
	b, _ := os.ReadFile(counter)
	if string(b) != strconv.Itoa(n) {
		t.Errorf("counter = %q after %d locked increments, want %d", b, n, n)
	}
}
