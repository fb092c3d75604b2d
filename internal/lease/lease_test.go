package lease

import (
	"testing"

	"ctrkit/internal/proc"
)

func TestLease(t *testing.T) {
	dir := t.TempDir()
	l, err := Take(dir, "unpack")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Add("layers/tmp/a"); err != nil {
		t.Fatal(err)
	}
	stale, _ := Take(dir, "unpack")
	stale.Holder = proc.ID{PID: l.Holder.PID, Start: l.Holder.Start + 1} // our PID, another process
	stale.Add("layers/tmp/b")
	ls, err := List(dir)
	if err != nil || len(ls) != 2 {
		t.Fatalf("List = %v, %v, want 2 leases", ls, err)
	}
	live, _ := Live(dir)
	if !live["layers/tmp/a"] || live["layers/tmp/b"] {
		t.Errorf("Live = %v, want only layers/tmp/a", live)
	}
	for _, x := range ls {
		if x.ID == stale.ID && x.Held() {
			t.Errorf("a lease whose holder's start time differs is Held")
		}
	}
	l.Release()
	stale.Release()
	if ls, _ := List(dir); len(ls) != 0 {
		t.Errorf("List after Release = %d leases, want 0", len(ls))
	}
}
