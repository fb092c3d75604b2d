package ipam

import (
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustCIDR(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNextFree(t *testing.T) {
	tests := []struct {
		subnet string
		used   []string
		want   string
	}{
		{"10.213.0.0/24", nil, "10.213.0.1"},
		{"10.213.0.0/24", []string{"10.213.0.1"}, "10.213.0.2"},
		{"10.213.0.0/24", []string{"10.213.0.1", "10.213.0.3"}, "10.213.0.2"},
		{"10.213.0.0/30", []string{"10.213.0.1"}, "10.213.0.2"},
		{"10.213.0.0/30", []string{"10.213.0.1", "10.213.0.2"}, "exhausted"},
		{"10.213.0.0/31", nil, "exhausted"},
		{"192.168.7.0/23", nil, "192.168.6.1"}, // ParseCIDR masks the address
	}
	for _, tt := range tests {
		used := map[string]bool{}
		for _, u := range tt.used {
			used[u] = true
		}
		got, err := NextFree(mustCIDR(t, tt.subnet), used)
		gotS := ""
		if err != nil {
			gotS = "exhausted"
		} else {
			gotS = got.String()
		}
		if gotS != tt.want {
			t.Errorf("NextFree(%q, %v) = %s (%v), want %s", tt.subnet, tt.used, gotS, err, tt.want)
		}
	}
}

func newNet(subnet string) *Network {
	return &Network{Name: "ctrkit0", Driver: Bridge, Link: "ctrkit0", Subnet: subnet, Gateway: "10.1.0.1", Endpoints: map[string]*Endpoint{}}
}

func TestAllocateRelease(t *testing.T) {
	n := newNet("10.1.0.0/29") // .1 gateway, .2-.6 containers, .7 broadcast
	var got []string
	for i := 0; i < 5; i++ {
		ip, err := n.Allocate(fmt.Sprint("c", i))
		if err != nil {
			t.Fatalf("Allocate(c%d) = %v", i, err)
		}
		got = append(got, ip.String())
	}
	want := []string{"10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Allocate x5 (-want +got):\n%s", diff)
	}
	if _, err := n.Allocate("c5"); err == nil {
		t.Errorf("Allocate(c5) on a full /29 = nil error, want exhaustion")
	}
	if ip, _ := n.Allocate("c2"); ip.String() != "10.1.0.4" {
		t.Errorf("Allocate(c2) again = %s, want its own 10.1.0.4", ip)
	}
	n.Release("c2")
	if ip, err := n.Allocate("c9"); err != nil || ip.String() != "10.1.0.4" {
		t.Errorf("Allocate(c9) after Release(c2) = %v, %v, want 10.1.0.4", ip, err)
	}
}

func TestReserved(t *testing.T) {
	n := newNet("10.1.0.0/24")
	n.Reserved = []string{"10.1.0.2", "10.1.0.3"}
	if ip, _ := n.Allocate("a"); ip.String() != "10.1.0.4" {
		t.Errorf("Allocate(a) with .2 and .3 reserved = %s, want 10.1.0.4", ip)
	}
}

func TestStorePersistence(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	s := Open(dir)
	err := s.Update(func(nets map[string]*Network) error {
		nets["ctrkit0"] = newNet("10.1.0.0/24")
		_, err := nets["ctrkit0"].Allocate("abc")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := Open(dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	n, ep := Find(nets, "abc")
	if n == nil || ep.IP != "10.1.0.2" {
		t.Fatalf("Find(abc) after reopening = %v, %v, want 10.1.0.2 in ctrkit0", n, ep)
	}
	// A failing update saves nothing.
	_ = s.Update(func(nets map[string]*Network) error {
		nets["ctrkit0"].Release("abc")
		return fmt.Errorf("boom")
	})
	nets, _ = s.Load()
	if _, ep := Find(nets, "abc"); ep == nil {
		t.Errorf("a failed Update released abc; want nothing saved")
	}
	// Removing the last network removes the directory.
	if err := s.Update(func(nets map[string]*Network) error { delete(nets, "ctrkit0"); return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := filepath.Glob(filepath.Join(dir, "*")); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(dir); len(m) != 0 {
		t.Errorf("state dir %s left after the last network went", dir)
	}
	// A failing update of no networks (rm of one that never was) leaves
	// no directory either.
	if err := s.Update(func(map[string]*Network) error { return fmt.Errorf("no network") }); err == nil {
		t.Errorf("Update(failing) = nil, want its error")
	}
	if m, _ := filepath.Glob(dir); len(m) != 0 {
		t.Errorf("state dir %s left by a failed update of no networks", dir)
	}
}

// TestConcurrent: 50 goroutines, each with its own flock (flock locks
// belong to an open file, so they exclude each other as processes would).
func TestConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "net")
	s := Open(dir)
	if err := s.Update(func(nets map[string]*Network) error {
		nets["ctrkit0"] = newNet("10.1.0.0/24")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	ips := make([]string, 50)
	for i := range ips {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := Open(dir).Update(func(nets map[string]*Network) error {
				ip, err := nets["ctrkit0"].Allocate(fmt.Sprint("c", i))
				ips[i] = ip.String()
				return err
			})
			if err != nil {
				t.Errorf("Allocate(c%d) = %v", i, err)
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for i, ip := range ips {
		if j, dup := seen[ip]; dup {
			t.Errorf("c%d and c%d both got %s", i, j, ip)
		}
		seen[ip] = i
	}
	nets, _ := s.Load()
	if got := len(nets["ctrkit0"].Endpoints); got != 50 {
		t.Errorf("endpoints after 50 concurrent allocations = %d, want 50", got)
	}
}

func TestParsePort(t *testing.T) {
	tests := []struct {
		in   string
		want Port
		err  bool
	}{
		{in: "8080:80", want: Port{HostPort: 8080, CtrPort: 80, Proto: "tcp"}},
		{in: "8080:80/udp", want: Port{HostPort: 8080, CtrPort: 80, Proto: "udp"}},
		{in: "8080:80/TCP", want: Port{HostPort: 8080, CtrPort: 80, Proto: "tcp"}},
		{in: "127.0.0.1:8080:80", want: Port{HostIP: "127.0.0.1", HostPort: 8080, CtrPort: 80, Proto: "tcp"}},
		{in: "80", err: true},
		{in: "a:80", err: true},
		{in: "0:80", err: true},
		{in: "70000:80", err: true},
		{in: "8080:80/sctp", err: true},
		{in: "::1:8080:80", err: true},
		{in: "host:8080:80", err: true},
		{in: "1:2:3:4", err: true},
	}
	for _, tt := range tests {
		got, err := ParsePort(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParsePort(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if !tt.err && got != tt.want {
			t.Errorf("ParsePort(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestPortConflicts(t *testing.T) {
	a := Port{HostPort: 8080, CtrPort: 80, Proto: "tcp"}
	tests := []struct {
		b    Port
		want bool
	}{
		{Port{HostPort: 8080, CtrPort: 81, Proto: "tcp"}, true},
		{Port{HostIP: "127.0.0.1", HostPort: 8080, CtrPort: 81, Proto: "tcp"}, true},
		{Port{HostPort: 8080, CtrPort: 80, Proto: "udp"}, false},
		{Port{HostPort: 8081, CtrPort: 80, Proto: "tcp"}, false},
	}
	for _, tt := range tests {
		if got := a.Conflicts(tt.b); got != tt.want {
			t.Errorf("%v.Conflicts(%v) = %v, want %v", a, tt.b, got, tt.want)
		}
	}
	b := Port{HostIP: "10.0.0.1", HostPort: 1, Proto: "tcp"}
	c := Port{HostIP: "10.0.0.2", HostPort: 1, Proto: "tcp"}
	if b.Conflicts(c) {
		t.Errorf("%v.Conflicts(%v) = true, want false (different host addresses)", b, c)
	}
}

func TestAllocateFromRange(t *testing.T) {
	n := &Network{Name: "ov", Driver: Overlay, Subnet: "10.220.0.0/16", Range: "10.220.2.0/24"}
	for _, want := range []string{"10.220.2.1", "10.220.2.2"} {
		ip, err := n.Allocate("c" + want)
		if err != nil || ip.String() != want {
			t.Errorf("Allocate() = %v, %v, want %s (the host's range, not the subnet's start)", ip, err, want)
		}
	}
	if !n.Bridged() || (&Network{Driver: Macvlan}).Bridged() {
		t.Errorf("Bridged(): overlay and bridge networks have a bridge of their own, macvlan not")
	}
}
