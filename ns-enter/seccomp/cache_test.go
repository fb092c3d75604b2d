package seccomp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCache(t *testing.T) {
	profile := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{
		{Names: []string{"mkdirat"}, Action: specs.ActErrno, ErrnoRet: errno(13)}}}
	f, err := Compile(profile)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := f.Program()
	f.Release()
	if err != nil {
		t.Fatal(err)
	}
	c := Cache{Dir: CacheDir(t.TempDir())}
	key := c.Key(profile)
	if len(key) != 64 || c.Key(profile) != key {
		t.Fatalf("Key() = %q, then %q: want the same 64 hex digits", key, c.Key(profile))
	}
	other := *profile
	other.DefaultAction = specs.ActLog
	if c.Key(&other) == key {
		t.Errorf("Key() of another default action is the same %s", key)
	}
	if (Cache{}).Key(profile) != "" {
		t.Errorf("the zero Cache made a key: it keeps nothing")
	}
	if got := c.Get(key); got != nil {
		t.Fatalf("Get() on an empty cache = %v, want nil", got)
	}
	if err := c.Put(key, prog); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	got := c.Get(key)
	if got == nil || !bytes.Equal(got.BPF, prog.BPF) || got.Flags != prog.Flags || got.Summary != prog.Summary {
		t.Fatalf("Get() after Put() = %+v, want %+v", got, prog)
	}
	for path, want := range map[string]os.FileMode{c.Dir: 0o700 | os.ModeDir, filepath.Join(c.Dir, key+".json"): 0o600} {
		if info, err := os.Stat(path); err != nil || info.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, info.Mode(), err, want)
		}
	}

	// What another user could have written is never loaded.
	if err := os.Chmod(c.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if c.Get(key) != nil {
		t.Errorf("Get() from a directory others may read and enter returned a program")
	}
	if c.Put(key, prog) == nil {
		t.Errorf("Put() into a directory others may enter succeeded")
	}
	os.Chmod(c.Dir, 0o700)
	file := filepath.Join(c.Dir, key+".json")
	os.Chmod(file, 0o666)
	if c.Get(key) != nil {
		t.Errorf("Get() of a file others may write returned a program")
	}
	os.Chmod(file, 0o600)

	// A torn or foreign file is a miss.
	for _, data := range []string{`{"bpf":"AAAA"}`, `{"bpf":`, `[]`} {
		os.WriteFile(file, []byte(data), 0o600)
		if p := c.Get(key); p != nil {
			t.Errorf("Get() of %q = %+v, want nil", data, p)
		}
	}

	// At most maxCached programs: the oldest go.
	for i := range maxCached + 3 {
		if err := c.Put(fmt.Sprintf("%064x", i), prog); err != nil {
			t.Fatal(err)
		}
	}
	es, _ := os.ReadDir(c.Dir)
	if len(es) != maxCached {
		t.Errorf("%d programs cached, want at most %d", len(es), maxCached)
	}
	if c.Get(fmt.Sprintf("%064x", maxCached+2)) == nil {
		t.Errorf("the newest program was pruned")
	}
}
