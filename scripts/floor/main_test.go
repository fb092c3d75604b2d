package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Both floors, in Go and in C, run each shape to its end: every process
// gets end of file on its stdin and exits 0 (a pipe end left open in a
// child would hang it).
func TestFloorsEnd(t *testing.T) {
	dir := t.TempDir()
	goFloor, cFloor := filepath.Join(dir, "floor"), filepath.Join(dir, "floor-c")
	if out, err := exec.Command("go", "build", "-o", goFloor, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	floors := []string{goFloor}
	if out, err := exec.Command("gcc", "-O2", "-Wall", "-Werror", "-o", cFloor, "c/floor.c").CombinedOutput(); err != nil {
		t.Errorf("gcc: %v\n%s", err, out)
	} else {
		floors = append(floors, cFloor)
	}
	for _, floor := range floors {
		for _, shape := range []string{"run", "runtime"} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			cmd := exec.CommandContext(ctx, floor, shape)
			// A hang ends with the whole process group: the children too.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil || len(out) != 0 {
				t.Errorf("%s %s: %v, output %q", filepath.Base(floor), shape, err, out)
			}
		}
		if err := exec.Command(floor, "walk").Run(); err == nil {
			t.Errorf("%s walk: exit 0, want an error for an unknown shape", filepath.Base(floor))
		}
	}
}
