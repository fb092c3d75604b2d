package netcfg

import (
	"net"
	"strings"
	"testing"

	"ctrkit/net-bridge/internal/nettest"

	"github.com/vishvananda/netlink"
)

// TestVXLAN runs in a network namespace of its own (privileged): an
// underlay link, the overlay's bridge and VXLAN device, a flood entry in
// and out, cross-checked with ip and bridge.
func TestVXLAN(t *testing.T) {
	nettest.Netns(t)
	ul := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ul0", MTU: 1500}, PeerName: "ul1"}
	if err := netlink.LinkAdd(ul); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("198.51.100.1/24")
	if err := netlink.AddrAdd(ul, addr); err != nil {
		t.Fatal(err)
	}
	for _, l := range []netlink.Link{ul, &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ul1"}}} {
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	local, peer := net.ParseIP("198.51.100.1"), net.ParseIP("198.51.100.2")

	if dev, mtu, err := Underlay(local); err != nil || dev != "ul0" || mtu != 1500 {
		t.Errorf("Underlay(%s) = %q, %d, %v, want ul0, 1500", local, dev, mtu, err)
	}
	if _, _, err := Underlay(net.ParseIP("198.51.100.9")); err == nil || !strings.Contains(err.Error(), "not an address of this host") {
		t.Errorf("Underlay(198.51.100.9) = %v, want: not an address of this host", err)
	}
	for ip, want := range map[string]string{"198.51.100.2": "", "198.51.100.1": "an address of this host", "203.0.113.1": "unreachable"} {
		err := CheckPeer(net.ParseIP(ip))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("CheckPeer(%s) = %v, want %q", ip, err, want)
		}
	}

	if err := OverlayBridge(nil, "ckobr", 1450); err != nil {
		t.Fatal(err)
	}
	if err := VXLAN(nil, "ckovx", "ckobr", 4242, local, "ul0", 1450); err != nil {
		t.Fatal(err)
	}
	if got := nettest.Run(t, "ip", "-d", "link", "show", "ckovx"); !strings.Contains(got, "vxlan id 4242 local 198.51.100.1 dev ul0") ||
		!strings.Contains(got, "dstport 4789 nolearning") || !strings.Contains(got, "mtu 1450") || !strings.Contains(got, "master ckobr") {
		t.Errorf("ip -d link show ckovx = %s, want vxlan id 4242 local 198.51.100.1 dev ul0 … dstport 4789 nolearning, mtu 1450, master ckobr", got)
	}
	if dev, err := VXLANWithID(4242); err != nil || dev != "ckovx" {
		t.Errorf("VXLANWithID(4242) = %q, %v, want ckovx", dev, err)
	}
	if err := VXLAN(nil, "ckovx2", "ckobr", 4242, local, "ul0", 1450); err == nil || !strings.Contains(err.Error(), "choose another --vni") {
		t.Errorf("VXLAN(a second device with VNI 4242) = %v, want: choose another --vni", err)
	}

	for range 2 { // the second time changes nothing
		if err := FloodAdd(nil, "ckovx", peer); err != nil {
			t.Fatalf("FloodAdd(ckovx, %s) = %v", peer, err)
		}
	}
	want := "00:00:00:00:00:00 dst 198.51.100.2 self permanent"
	if got := nettest.Run(t, "bridge", "fdb", "show", "dev", "ckovx"); strings.Count(got, want) != 1 {
		t.Errorf("bridge fdb show dev ckovx = %s, want one %q", got, want)
	}
	if fdb, err := FDB("ckovx"); err != nil || !hasEntry(fdb, want) {
		t.Errorf("FDB(ckovx) = %v, %v, want %q", fdb, err, want)
	}
	for range 2 {
		if err := FloodDel(nil, "ckovx", peer); err != nil {
			t.Fatalf("FloodDel(ckovx, %s) = %v", peer, err)
		}
	}
	if fdb, err := FDB("ckovx"); err != nil || hasEntry(fdb, want) {
		t.Errorf("FDB(ckovx) after FloodDel = %v, %v, want no %q", fdb, err, want)
	}
}

func hasEntry(fdb []FDBEntry, want string) bool {
	for _, e := range fdb {
		if e.String() == want {
			return true
		}
	}
	return false
}
