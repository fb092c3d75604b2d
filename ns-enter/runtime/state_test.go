package runtime

import (
	"os"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"web", true}, {"c4ba7269dad3", true}, {"a_b-c.d+e", true},
		{"", false}, {".", false}, {"..", false}, {"../x", false}, {"a/b", false}, {"a b", false},
	} {
		if err := CheckID(tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}

func TestProcStatFields(t *testing.T) {
	// The command name may hold spaces and parentheses.
	f := procStatFields([]byte("42 (a (b) c) S 1 42 42 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 987654 1000 100"))
	if len(f) < 20 || f[0] != "S" || f[19] != "987654" {
		t.Errorf("procStatFields = %q, want state S and field 22 = 987654", f)
	}
}

func TestStatus(t *testing.T) {
	root := t.TempDir()
	st, err := New(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(root, "c1"); err == nil {
		t.Errorf("New(c1) twice = nil, want an error: the id is taken")
	}
	if got := st.Status(nil); got != specs.StateStopped {
		t.Errorf("Status() without a process = %q, want stopped", got)
	}
	// Ourselves as the container's process: alive.
	if err := st.SetPid(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if got := st.Status(nil); got != specs.StateRunning {
		t.Errorf("Status() = %q, want running", got)
	}
	if err := os.WriteFile(st.Path("exec.fifo"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := st.Status(nil); got != specs.StateCreated {
		t.Errorf("Status() with exec.fifo = %q, want created", got)
	}
	os.Remove(st.Path("exec.fifo"))
	st.CgroupsPath = "/x"
	if got := st.Status(func(string) bool { return true }); got != "paused" {
		t.Errorf("Status() frozen = %q, want paused", got)
	}
	// The same pid with another start time is another process.
	st.PidStart++
	if got := st.Status(nil); got != specs.StateStopped {
		t.Errorf("Status() of a reused pid = %q, want stopped", got)
	}
	if err := st.Save(); err != nil {
		t.Fatal(err)
	}
	back, err := Load(root, "c1")
	if err != nil || back.Pid != st.Pid || back.CgroupsPath != "/x" {
		t.Errorf("Load(c1) = %+v, %v; want what Save wrote", back, err)
	}
	all, err := List(root)
	if err != nil || len(all) != 1 {
		t.Errorf("List() = %d containers, %v; want 1", len(all), err)
	}
	if err := st.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(root, "c1"); err == nil {
		t.Errorf("Load after Remove = nil, want does not exist")
	}
}

func TestCgName(t *testing.T) {
	for in, want := range map[string]string{"/ctrkit/web": "web", "ctrkit/web": "web", "/default/web": "/default/web", "/a/ctrkit/b": "/a/ctrkit/b"} {
		if got := cgName(in); got != want {
			t.Errorf("cgName(%q) = %q, want %q", in, got, want)
		}
	}
}
