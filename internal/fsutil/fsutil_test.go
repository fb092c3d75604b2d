package fsutil

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWriteFile(t *testing.T) {
	// WriteDraft is WriteFile without the fsyncs: the same on the outside.
	for name, write := range map[string]func(string, []byte, os.FileMode) error{"WriteFile": WriteFile, "WriteDraft": WriteDraft} {
		dir := t.TempDir()
		path := filepath.Join(dir, "networks.json")
		for _, content := range []string{"first\n", "second, longer\n"} {
			if err := write(path, []byte(content), 0o600); err != nil {
				t.Fatalf("%s(%q) = %v", name, path, err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != content {
				t.Errorf("after %s(%q): content %q, %v, want %q", name, path, got, err, content)
			}
		}
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s(%q, 0600): mode %v, %v", name, path, fi.Mode(), err)
		}
		ents, _ := os.ReadDir(dir)
		if len(ents) != 1 {
			t.Errorf("%s left %d files in %s, want only networks.json", name, len(ents), dir)
		}
		if err := write(filepath.Join(dir, "missing", "f"), nil, 0o600); err == nil {
			t.Errorf("%s into a missing directory: error = nil, want one", name)
		}
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

// content is writer i's file: big enough (256 KiB) that a plain
// os.WriteFile would be seen half-written, and each byte names its writer.
func content(i int) []byte {
	return bytes.Repeat([]byte{byte('a' + i)}, 256<<10)
}

// wholeFile reports whether b is one writer's content, entire.
func wholeFile(b []byte, writers int) bool {
	for i := range writers {
		if bytes.Equal(b, content(i)) {
			return true
		}
	}
	return false
}

// TestWriteFileConcurrent: writers replace one file at once while readers
// read it; every read sees one writer's whole content (never half of one,
// never two mixed, never an empty file), and no temporary file is left.
func TestWriteFileConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := WriteFile(path, content(0), 0o600); err != nil {
		t.Fatalf("WriteFile(%q) = %v", path, err)
	}
	const writers, rounds = 8, 20
	var stop atomic.Bool
	var reads, bad atomic.Int64
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for !stop.Load() {
				b, err := os.ReadFile(path)
				reads.Add(1)
				if err != nil || !wholeFile(b, writers) {
					if bad.Add(1) == 1 {
						t.Errorf("read %q during writes: %d bytes, %v; want one writer's whole content", path, len(b), err)
					}
				}
			}
		}()
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := WriteFile(path, content(i), 0o600); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent WriteFile(%q) = %v", path, err)
	}
	if reads.Load() == 0 {
		t.Errorf("the readers read nothing: the test proved nothing")
	}
	b, err := os.ReadFile(path)
	if err != nil || !wholeFile(b, writers) {
		t.Errorf("after the writes %q holds %d bytes, %v; want one writer's whole content", path, len(b), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("concurrent writers left %v in %s, want only state.json", names, dir)
	}
}

// TestWriteFileFailureCleansUp: when the rename fails (path is a directory)
// WriteFile reports it and removes its temporary file.
func TestWriteFileFailureCleansUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pid")
	if err := os.MkdirAll(filepath.Join(path, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, []byte("42"), 0o644)
	if err == nil || !strings.Contains(err.Error(), "rename") {
		t.Errorf("WriteFile(%q) over a directory = %v, want a rename error", path, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "pid" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("failed WriteFile left %v in %s, want only pid", names, dir)
	}
}

// TestWriteFileExact: the bytes land as given (a pid file has no newline:
// containerd parses it with Atoi) and with the mode asked for, whatever
// the umask.
func TestWriteFileExact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pid")
	if err := WriteFile(path, []byte("4242"), 0o644); err != nil {
		t.Fatalf("WriteFile(%q) = %v", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "4242" {
		t.Errorf("ReadFile(%q) = %q, %v, want %q", path, b, err, "4242")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("WriteFile(%q, 0644): mode %v, %v", path, fi.Mode(), err)
	}
}

// TestLockExisting: it creates nothing, says os.ErrNotExist for a missing
// lock file, and excludes Lock's holders when the file is there.
func TestLockExisting(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ctr")
	if _, err := LockExisting(dir, ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LockExisting(%q) with no lock file = %v, want os.ErrNotExist", dir, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LockExisting created %s: %v", dir, err)
	}
	held, err := Lock(dir, ".lock")
	if err != nil {
		t.Fatalf("Lock(%q) = %v", dir, err)
	}
	got := make(chan error, 1)
	go func() {
		f, err := LockExisting(dir, ".lock")
		if err == nil {
			f.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("LockExisting returned (%v) while Lock's holder held the lock", err)
	case <-time.After(100 * time.Millisecond):
	}
	held.Close()
	if err := <-got; err != nil {
		t.Errorf("LockExisting(%q) after release = %v", dir, err)
	}
}

func ExampleWriteFile() {
	path := filepath.Join(os.TempDir(), "fsutil-example")
	defer os.Remove(path)
	if err := WriteFile(path, []byte("4242"), 0o644); err != nil {
		fmt.Println(err)
	}
	b, _ := os.ReadFile(path)
	fmt.Println(string(b))
	// Output: 4242
}
