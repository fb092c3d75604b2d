package proc

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"42@1000", ID{42, 1000}, true},
		{"42\n", ID{42, 0}, true},
		{"", ID{}, false},
		{"x@1", ID{}, false},
		{"-1", ID{}, false},
	} {
		got, err := Parse(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Parse(%q) = %v, %v, want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestIdentity(t *testing.T) {
	self := Self()
	if self.PID != os.Getpid() || self.Start == 0 || !self.Alive() {
		t.Fatalf("Self() = %v, want our pid with a start time, alive", self)
	}
	if (ID{PID: self.PID, Start: self.Start + 1}).Alive() {
		t.Errorf("ID with a wrong start time is Alive")
	}
	cmd, id := sleeper(t)
	stale := ID{PID: id.PID, Start: id.Start - 1}
	if err := stale.Signal(syscall.SIGKILL); err != ErrGone {
		t.Fatalf("stale.Signal = %v, want ErrGone", err)
	}
	if !id.Alive() {
		t.Fatalf("the sleep died from a stale identity's signal")
	}
	if err := id.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("Signal = %v", err)
	}
	cmd.Wait()
	if id.Alive() {
		t.Errorf("Alive after kill and wait")
	}
}

func TestWait(t *testing.T) {
	cmd, id := sleeper(t)
	t0 := time.Now()
	if id.Wait(50 * time.Millisecond) {
		t.Fatal("Wait on a running process = true, want false")
	}
	if waited := time.Since(t0); waited < 50*time.Millisecond {
		t.Errorf("Wait returned after %v, want the 50 ms it was given", waited)
	}
	if !(ID{PID: id.PID, Start: id.Start - 1}).Wait(time.Minute) {
		t.Errorf("Wait on a stale identity = false, want true at once")
	}
	// It wakes when the process ends, though nobody reaps it yet.
	go func() {
		time.Sleep(100 * time.Millisecond)
		cmd.Process.Kill()
	}()
	t0 = time.Now()
	if !id.Wait(10 * time.Second) {
		t.Fatalf("Wait = false, want true once the process is killed")
	}
	if waited := time.Since(t0); waited > 2*time.Second {
		t.Errorf("Wait took %v for a process killed after 100 ms", waited)
	}
	cmd.Wait()
}

// sleeper starts a child that sleeps, killed at the test's end, and
// returns it with its identity.
func sleeper(t *testing.T) (*exec.Cmd, ID) {
	t.Helper()
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	id, err := Of(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	return cmd, id
}
