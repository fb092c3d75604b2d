package netcfg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/explain"
	"ctrkit/net-bridge/internal/nettest"

	"github.com/vishvananda/netlink"
)

func TestCheckName(t *testing.T) {
	for name, want := range map[string]string{
		"ctrkit0":          "",
		"ck-123456789012":  "",
		"":                 "empty",
		"ck-1234567890123": "16 bytes",
		"a/b":              "no '/'",
		"a b":              "white space",
		"..":               "no '/'",
	} {
		err := CheckName(name)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckName(%q) = %v, want %q", name, err, want)
		}
	}
}

func TestNsCmd(t *testing.T) {
	for _, tt := range []struct{ path, want string }{
		{"/run/netns/ck-a", "ip -n ck-a link set lo up"},
		{"/proc/42/ns/net", "nsenter --net=/proc/42/ns/net ip link set lo up"},
	} {
		if got := nsCmd(tt.path, "ip link set lo up"); got != tt.want {
			t.Errorf("nsCmd(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

// explained returns a log that records into a buffer.
func explained() (*explain.Log, *bytes.Buffer) {
	var b bytes.Buffer
	return explain.New("net-bridge", &b, true), &b
}

// uplink makes a link named name with address addr (if not ""), up: one
// end of a veth pair whose other end, name+"p", stays in the same namespace
// (a dummy link would do, but the dummy module is not everywhere).
func uplink(t *testing.T, name string, addr string) netlink.Link {
	t.Helper()
	if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}); err != nil {
		t.Fatalf("ip link add %s type veth peer name %sp: %v", name, name, err)
	}
	l, err := netlink.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		a, err := netlink.ParseAddr(addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := netlink.AddrAdd(l, a); err != nil {
			t.Fatalf("ip addr add %s dev %s: %v", addr, name, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
	return l
}

// namedNetns makes /run/netns/ckt-… with NewNetns, removed when the test ends.
func namedNetns(t *testing.T) string {
	t.Helper()
	name := nettest.Name("ckt-")
	path, err := NewNetns(nil, name)
	if err != nil {
		t.Fatalf("NewNetns(%q) = %v", name, err)
	}
	t.Cleanup(func() {
		if err := DeleteNetns(nil, path); err != nil {
			t.Errorf("DeleteNetns(%q) = %v", path, err)
		}
	})
	return path
}

type ipAddr struct {
	IfName   string `json:"ifname"`
	Flags    []string
	AddrInfo []struct {
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// ipAddrs is `ip [-n NS] -j -4 addr show dev DEV`, as "ADDR/LEN" strings.
func ipAddrs(t *testing.T, ns, dev string) []string {
	t.Helper()
	args := []string{"-j", "-4", "addr", "show", "dev", dev}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	var out []ipAddr
	if err := json.Unmarshal([]byte(nettest.Run(t, "ip", args...)), &out); err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, l := range out {
		for _, a := range l.AddrInfo {
			s = append(s, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
		}
	}
	return s
}

func TestEnsureBridge(t *testing.T) {
	nettest.Netns(t)
	log, steps := explained()
	gw := &net.IPNet{IP: net.IPv4(10, 213, 0, 1).To4(), Mask: net.CIDRMask(24, 32)}
	if LinkExists("ckbr0") || LinkState("ckbr0") != "missing" {
		t.Fatalf("ckbr0 exists before EnsureBridge")
	}
	for i := range 2 { // the second time finds it all there
		if err := EnsureBridge(log, "ckbr0", gw); err != nil {
			t.Fatalf("EnsureBridge(ckbr0, %s) #%d = %v", gw, i+1, err)
		}
	}
	if got := strings.Count(steps.String(), "$ ip link add ckbr0 type bridge"); got != 1 {
		t.Errorf("EnsureBridge twice explained `ip link add` %d times, want 1:\n%s", got, steps)
	}
	if !LinkExists("ckbr0") || LinkState("ckbr0") != "up" {
		t.Errorf("LinkExists/LinkState(ckbr0) = %v/%s, want true/up", LinkExists("ckbr0"), LinkState("ckbr0"))
	}
	if got := ipAddrs(t, "", "ckbr0"); len(got) != 1 || got[0] != "10.213.0.1/24" {
		t.Errorf("ip addr show dev ckbr0 = %v, want [10.213.0.1/24]", got)
	}
	if got, err := AddrOf("", "ckbr0"); err != nil || len(got) != 1 || got[0] != "10.213.0.1/24" {
		t.Errorf("AddrOf(\"\", ckbr0) = %v, %v, want [10.213.0.1/24]", got, err)
	}
	if got, err := HostAddrs("ckbr0"); err != nil || len(got) != 1 || !got[0].Equal(gw.IP) {
		t.Errorf("HostAddrs(ckbr0) = %v, %v, want [%s]", got, err, gw.IP)
	}
	if got, err := Ports("ckbr0"); err != nil || len(got) != 0 {
		t.Errorf("Ports(ckbr0) = %v, %v, want none", got, err)
	}

	uplink(t, "ckup0", "")
	if err := EnsureBridge(nil, "ckup0", gw); err == nil || !strings.Contains(err.Error(), "is a veth, not a bridge") {
		t.Errorf("EnsureBridge(ckup0: a veth) = %v, want \"is a veth, not a bridge\"", err)
	}

	if err := DeleteLink(log, "ckbr0"); err != nil {
		t.Fatalf("DeleteLink(ckbr0) = %v", err)
	}
	if LinkExists("ckbr0") {
		t.Errorf("ckbr0 still exists after DeleteLink")
	}
	if err := DeleteLink(log, "ckbr0"); err != nil {
		t.Errorf("DeleteLink(ckbr0) of a link that is gone = %v, want nil", err)
	}
	if _, err := Ports("ckbr0"); err == nil {
		t.Errorf("Ports(ckbr0) of a missing bridge: error = nil")
	}
	if _, err := HostAddrs("ckbr0"); err == nil {
		t.Errorf("HostAddrs(ckbr0) of a missing link: error = nil")
	}
}

func TestOverlap(t *testing.T) {
	nettest.Netns(t)
	uplink(t, "ckup0", "10.99.0.1/24")
	cidr := func(s string) *net.IPNet { _, n, _ := net.ParseCIDR(s); return n }
	for _, tt := range []struct {
		subnet, skip, want string
	}{
		{"10.99.0.0/25", "", "10.99.0.0/24 dev ckup0"}, // inside the route
		{"10.0.0.0/8", "", "10.99.0.0/24 dev ckup0"},   // around it
		{"10.99.0.0/25", "ckup0", ""},                  // the network's own bridge
		{"10.98.0.0/24", "", ""},
	} {
		got, err := Overlap(cidr(tt.subnet), tt.skip)
		if err != nil || got != tt.want {
			t.Errorf("Overlap(%s, %q) = %q, %v, want %q", tt.subnet, tt.skip, got, err, tt.want)
		}
	}
}

// TestVethAddress wires a container as attach does: a named namespace, a
// veth pair with eth0 inside it on a bridge, an address and a route; and
// cross-checks each step with ip.
func TestVethAddress(t *testing.T) {
	nettest.Netns(t)
	log, steps := explained()
	gw := &net.IPNet{IP: net.IPv4(10, 97, 0, 1).To4(), Mask: net.CIDRMask(24, 32)}
	if err := EnsureBridge(nil, "ckbr0", gw); err != nil {
		t.Fatal(err)
	}
	path := namedNetns(t)
	name := filepath.Base(path)
	if _, err := NewNetns(nil, name); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("NewNetns(%q) a second time = %v, want \"exists already\"", name, err)
	}
	if err := Veth(log, "ck-vtest", "ckbr0", path, 0); err != nil {
		t.Fatalf("Veth(ck-vtest, ckbr0, %s) = %v", path, err)
	}
	addr := &net.IPNet{IP: net.IPv4(10, 97, 0, 2).To4(), Mask: net.CIDRMask(24, 32)}
	if err := Address(log, path, addr, gw.IP); err != nil {
		t.Fatalf("Address(%s, %s, %s) = %v", path, addr, gw.IP, err)
	}
	for _, want := range []string{
		"$ ip link add ck-vtest master ckbr0 type veth peer name eth0 netns " + name,
		"$ ip -n " + name + " addr add 10.97.0.2/24 dev eth0",
		"$ ip -n " + name + " route add default via 10.97.0.1",
	} {
		if !strings.Contains(steps.String(), want) {
			t.Errorf("explain output lacks %q:\n%s", want, steps)
		}
	}
	if got := ipAddrs(t, name, "eth0"); len(got) != 1 || got[0] != "10.97.0.2/24" {
		t.Errorf("ip -n %s addr show dev eth0 = %v, want [10.97.0.2/24]", name, got)
	}
	if got, err := AddrOf(path, "eth0"); err != nil || len(got) != 1 || got[0] != "10.97.0.2/24" {
		t.Errorf("AddrOf(%s, eth0) = %v, %v", path, got, err)
	}
	if got := nettest.Run(t, "ip", "-n", name, "route", "show", "default"); !strings.HasPrefix(got, "default via 10.97.0.1 dev eth0") {
		t.Errorf("ip -n %s route show default = %q, want default via 10.97.0.1 dev eth0", name, got)
	}
	if got, err := Ports("ckbr0"); err != nil || len(got) != 1 || got[0] != "ck-vtest" {
		t.Errorf("Ports(ckbr0) = %v, %v, want [ck-vtest]", got, err)
	}
	// The container reaches its gateway through the bridge.
	nettest.Run(t, "ip", "netns", "exec", name, "busybox", "ping", "-c", "1", "-W", "2", "10.97.0.1")

	if err := Veth(nil, "ck-vtest", "ckbr0", path, 0); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("Veth(ck-vtest) a second time = %v, want \"exists already\"", err)
	}
	if err := Veth(nil, "ck-vtest2", "nobridge", path, 0); err == nil || !strings.Contains(err.Error(), "net-bridge create --name nobridge") {
		t.Errorf("Veth(… nobridge …) = %v, want a hint to create it", err)
	}
	if err := Veth(nil, "ck-vtest2", "ckbr0", "/nonexistent", 0); err == nil {
		t.Errorf("Veth(… /nonexistent) = nil, want an error")
	}
	if err := Address(nil, path, addr, gw.IP); err == nil {
		t.Errorf("Address a second time = nil, want \"file exists\"")
	}
	if err := DeleteLink(nil, "ck-vtest"); err != nil {
		t.Fatal(err)
	}
	if _, err := AddrOf(path, "eth0"); err == nil {
		t.Errorf("eth0 still in %s after deleting its peer ck-vtest", name)
	}
	if err := LoopbackUp(log, path); err != nil {
		t.Errorf("LoopbackUp(%s) = %v", path, err)
	}
	if err := LoopbackUp(nil, "/nonexistent"); err == nil {
		t.Errorf("LoopbackUp(/nonexistent) = nil, want an error")
	}
	if err := Address(nil, path, addr, nil); err == nil || !strings.Contains(err.Error(), "find eth0") {
		t.Errorf("Address without eth0 = %v, want \"find eth0\"", err)
	}
}

func TestMacvlan(t *testing.T) {
	nettest.Netns(t)
	uplink(t, "ckup0", "192.0.2.1/24")
	path := namedNetns(t)
	name := filepath.Base(path)
	log, steps := explained()
	if err := Macvlan(log, "ckup0", path); err != nil {
		t.Fatalf("Macvlan(ckup0, %s) = %v", path, err)
	}
	if want := "$ ip link add eth0 link ckup0 netns " + name + " type macvlan mode bridge"; !strings.Contains(steps.String(), want) {
		t.Errorf("explain output lacks %q:\n%s", want, steps)
	}
	if got := nettest.Run(t, "ip", "-n", name, "-d", "-o", "link", "show", "eth0"); !strings.Contains(got, "macvlan mode bridge") {
		t.Errorf("ip -n %s -d link show eth0 = %q, want a macvlan in bridge mode", name, got)
	}
	addr := &net.IPNet{IP: net.IPv4(192, 0, 2, 3).To4(), Mask: net.CIDRMask(24, 32)}
	if err := Address(nil, path, addr, nil); err != nil {
		t.Errorf("Address(%s, %s, no gateway) = %v", path, addr, err)
	}
	if err := Macvlan(nil, "ckup0", path); err == nil {
		t.Errorf("Macvlan a second eth0 in %s = nil, want an error", name)
	}
	if err := Macvlan(nil, "nothere", path); err == nil || !strings.Contains(err.Error(), `macvlan parent "nothere"`) {
		t.Errorf("Macvlan(nothere) = %v, want macvlan parent \"nothere\"", err)
	}
	if err := Macvlan(nil, "ckup0", "/nonexistent"); err == nil {
		t.Errorf("Macvlan(… /nonexistent) = nil, want an error")
	}
}

func TestDeleteNetns(t *testing.T) {
	nettest.Netns(t)
	path := namedNetns(t) // its cleanup deletes it a second time: no error
	if err := DeleteNetns(nil, path); err != nil {
		t.Fatalf("DeleteNetns(%s) = %v", path, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("%s after DeleteNetns: %v, want it gone", path, err)
	}
	// A file that is no mount point (as a crash may leave) goes too.
	f := filepath.Join(t.TempDir(), "ns")
	os.WriteFile(f, nil, 0o444)
	if err := DeleteNetns(nil, f); err != nil {
		t.Errorf("DeleteNetns(%s), not a mount point = %v", f, err)
	}
}

func TestSysctl(t *testing.T) {
	nettest.Netns(t) // a fresh namespace starts with forwarding off
	log, steps := explained()
	for i, want := range []bool{true, false} {
		changed, err := SetSysctl(log, "net/ipv4/ip_forward", "1")
		if err != nil || changed != want {
			t.Errorf("SetSysctl(ip_forward, 1) #%d = %v, %v, want %v", i+1, changed, err, want)
		}
	}
	if v, err := Sysctl("net/ipv4/ip_forward"); v != "1" || err != nil {
		t.Errorf("Sysctl(ip_forward) = %q, %v, want 1", v, err)
	}
	if got := nettest.Run(t, "sysctl", "-n", "net.ipv4.ip_forward"); strings.TrimSpace(got) != "1" {
		t.Errorf("sysctl -n net.ipv4.ip_forward = %q, want 1", got)
	}
	if want := `write("/proc/sys/net/ipv4/ip_forward", "1")  $ sysctl -w net.ipv4.ip_forward=1`; !strings.Contains(steps.String(), want) {
		t.Errorf("explain output lacks %q:\n%s", want, steps)
	}
	if _, err := SetSysctl(nil, "net/ipv4/no_such_key", "1"); err == nil {
		t.Errorf("SetSysctl(no_such_key) = nil, want an error")
	}
}
