package network

import (
	"strings"
	"testing"

	"ctrkit/net-bridge/internal/nettest"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/netcfg"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
)

// underlay makes, in the test's namespace, the link ul0 with address
// 198.51.100.1/16 (its veth peer ul1 up, so 198.51.0.0/16 is routed).
func underlay(t *testing.T) {
	t.Helper()
	ul := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ul0", MTU: 1500}, PeerName: "ul1"}
	if err := netlink.LinkAdd(ul); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("198.51.100.1/16")
	if err := netlink.AddrAdd(ul, addr); err != nil {
		t.Fatal(err)
	}
	for _, l := range []netlink.Link{ul, &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ul1"}}} {
		if err := netlink.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
}

// floods lists the flood entries (the zero MAC's remotes) of VXLAN device vx.
func floods(t *testing.T, vx string) []string {
	t.Helper()
	es, err := netcfg.FDB(vx)
	if err != nil {
		t.Fatalf("FDB(%s) = %v", vx, err)
	}
	var out []string
	for _, e := range es {
		if e.MAC == "00:00:00:00:00:00" && !e.Master {
			out = append(out, e.Dst)
		}
	}
	return out
}

// TestOverlayLifecycle makes an overlay network in a network namespace of
// its own (privileged) and checks the kernel's links and flood entries as
// peers come and go, the network is made again, and removed.
func TestOverlayLifecycle(t *testing.T) {
	nettest.Netns(t)
	underlay(t)
	m, steps, _ := testManager(t)
	o := OverlayOptions{Subnet: "10.220.0.0/16", VNI: 4243, Underlay: "198.51.100.1", Peers: []string{"198.51.100.2"}}
	n, err := m.CreateOverlay("ov", o)
	if err != nil {
		t.Fatalf("CreateOverlay(ov) = %v", err)
	}
	if n.Range != "10.220.1.0/24" || n.MTU != 1450 || n.VXLAN != "vx-ov" || n.Link != "ov" {
		t.Errorf("CreateOverlay(ov) = range %s, mtu %d, vxlan %s, link %s; want 10.220.1.0/24, 1450, vx-ov, ov", n.Range, n.MTU, n.VXLAN, n.Link)
	}
	l, err := netlink.LinkByName("vx-ov")
	if vx, ok := l.(*netlink.Vxlan); err != nil || !ok || vx.VxlanId != 4243 || vx.MTU != 1450 || vx.Learning {
		t.Fatalf("link vx-ov = %+v, %v; want a VXLAN device, id 4243, mtu 1450, nolearning", l, err)
	}
	if br, err := netlink.LinkByName("ov"); err != nil || br.Type() != "bridge" || l.Attrs().MasterIndex != br.Attrs().Index {
		t.Errorf("link ov = %v, %v; want the bridge vx-ov is plugged into", br, err)
	}
	if got := floods(t, "vx-ov"); !cmp.Equal(got, []string{"198.51.100.2"}) {
		t.Errorf("flood entries = %q, want [198.51.100.2]", got)
	}
	if !strings.Contains(steps.String(), "bridge fdb append 00:00:00:00:00:00 dev vx-ov dst 198.51.100.2") {
		t.Errorf("explain log lacks the flood entry:\n%s", steps)
	}

	if err := m.PeerAdd("ov", "198.51.100.3"); err != nil {
		t.Fatalf("PeerAdd(198.51.100.3) = %v", err)
	}
	if err := m.PeerAdd("ov", "198.51.100.3"); err != nil {
		t.Errorf("PeerAdd(198.51.100.3) again = %v, want nothing to do", err)
	}
	for ip, want := range map[string]string{
		"198.51.100.1":   "an address of this host",
		"203.0.113.1":    "unreachable",
		"not-an-address": "not an IPv4 address",
		"198.51.101.3":   "both end in .3",
	} {
		if err := m.PeerAdd("ov", ip); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("PeerAdd(%s) = %v, want %q", ip, err, want)
		}
	}
	if err := m.PeerAdd("nope", "198.51.100.4"); err == nil || !strings.Contains(err.Error(), `no network "nope"`) {
		t.Errorf("PeerAdd(nope) = %v", err)
	}
	peers, err := m.Peers("ov")
	want := []Peer{{"198.51.100.1", "10.220.1.0/24", true}, {"198.51.100.2", "10.220.2.0/24", false}, {"198.51.100.3", "10.220.3.0/24", false}}
	if err != nil || !cmp.Equal(peers, want) {
		t.Errorf("Peers(ov) = %+v, %v; want %+v", peers, err, want)
	}
	if got := floods(t, "vx-ov"); len(got) != 2 {
		t.Errorf("flood entries after PeerAdd = %q, want two", got)
	}

	if err := m.PeerRm("ov", "198.51.100.2"); err != nil {
		t.Fatalf("PeerRm(198.51.100.2) = %v", err)
	}
	if got := floods(t, "vx-ov"); !cmp.Equal(got, []string{"198.51.100.3"}) {
		t.Errorf("flood entries after PeerRm = %q, want [198.51.100.3]", got)
	}
	if err := m.PeerRm("ov", "198.51.100.2"); err == nil || !strings.Contains(err.Error(), "is not a peer") {
		t.Errorf("PeerRm(198.51.100.2) again = %v, want 'is not a peer'", err)
	}

	// Run again, with a new peer: only the peer is added.
	o.Peers = []string{"198.51.100.4"}
	if _, err := m.CreateOverlay("ov", o); err != nil {
		t.Fatalf("CreateOverlay(ov) again = %v", err)
	}
	if got := floods(t, "vx-ov"); len(got) != 2 {
		t.Errorf("flood entries after a second create = %q, want .3 and .4", got)
	}
	// The links are lost (a reboot): create makes them again, peers included.
	if err := netcfg.DeleteLink(nil, "vx-ov"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateOverlay("ov", o); err != nil {
		t.Fatalf("CreateOverlay(ov) with vx-ov gone = %v", err)
	}
	if got := floods(t, "vx-ov"); len(got) != 2 {
		t.Errorf("flood entries after rewiring = %q, want .3 and .4", got)
	}

	// Another overlay may not take the VNI a foreign device has, nor a
	// name a foreign link has.
	if err := netlink.LinkAdd(&netlink.Vxlan{LinkAttrs: netlink.LinkAttrs{Name: "foreign"}, VxlanId: 4244, Port: 4790}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateOverlay("ov2", OverlayOptions{Subnet: "10.221.0.0/16", VNI: 4244, Underlay: "198.51.100.1"}); err == nil || !strings.Contains(err.Error(), `VXLAN device "foreign"`) {
		t.Errorf("CreateOverlay(VNI of a foreign device) = %v", err)
	}
	if _, err := m.CreateOverlay("ul1", OverlayOptions{Subnet: "10.221.0.0/16", VNI: 4245, Underlay: "198.51.100.1"}); err == nil || !strings.Contains(err.Error(), `a link named "ul1" exists`) {
		t.Errorf("CreateOverlay(name of a foreign link) = %v", err)
	}
	if _, err := m.CreateOverlay("ov3", OverlayOptions{Subnet: "10.222.0.0/16", VNI: 4246, Underlay: "198.51.100.9"}); err == nil || !strings.Contains(err.Error(), "not an address of this host") {
		t.Errorf("CreateOverlay(foreign underlay) = %v", err)
	}
	if netcfg.LinkExists("ov2") || netcfg.LinkExists("vx-ov3") {
		t.Errorf("a refused create left a link")
	}

	top, err := m.Show()
	if err != nil || len(top.Networks) != 1 {
		t.Fatalf("Show() = %+v, %v", top, err)
	}
	if err := m.Remove("ov"); err != nil {
		t.Fatalf("Remove(ov) = %v", err)
	}
	if netcfg.LinkExists("ov") || netcfg.LinkExists("vx-ov") {
		t.Errorf("Remove(ov) left its links")
	}
	if nets, _ := m.List(); nets["ov"] != nil {
		t.Errorf("Remove(ov) left its record")
	}
	if _, err := m.Peers("ov"); err == nil {
		t.Errorf("Peers(ov) after Remove = nil error")
	}
}

func TestOverlayOf(t *testing.T) {
	nets := map[string]*ipam.Network{"br": {Name: "br", Driver: ipam.Bridge}}
	if _, err := overlay(nets, "br"); err == nil || !strings.Contains(err.Error(), "not an overlay") {
		t.Errorf("overlay(bridge) = %v", err)
	}
	n := &ipam.Network{Subnet: "10.220.0.0/16", Underlay: "198.51.100.1", Range: "10.220.1.0/24", Peers: []string{"198.51.100.7"}}
	if got := PeersOf(n); len(got) != 2 || got[1].Range != "10.220.7.0/24" {
		t.Errorf("PeersOf() = %+v", got)
	}
}
