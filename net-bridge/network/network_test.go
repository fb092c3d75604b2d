package network

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/spec"
	"ctrkit/net-bridge/internal/nettest"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/netcfg"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// newID is a container id for this test (its netns /run/netns/ck-ID is
// visible host-wide), detached again when the test ends, even if it fails.
func newID(t *testing.T, m *Manager) string {
	id := nettest.Name("gt")
	t.Cleanup(func() {
		if _, err := m.Detach(id); err != nil {
			t.Errorf("Detach(%s) at cleanup: %v", id, err)
		}
	})
	return id
}

// gone checks that nothing of container id is left in the kernel or state.
func gone(t *testing.T, m *Manager, id string) {
	t.Helper()
	if _, err := os.Stat("/run/netns/ck-" + id); !os.IsNotExist(err) {
		t.Errorf("/run/netns/ck-%s is left: %v", id, err)
	}
	if netcfg.LinkExists("ck-" + id) {
		t.Errorf("link ck-%s is left", id)
	}
	if _, err := os.Stat(filepath.Join(m.State, id)); !os.IsNotExist(err) {
		t.Errorf("STATE/%s is left: %v", id, err)
	}
}

func TestCreateAttachDetachRemove(t *testing.T) {
	nettest.Netns(t)
	m, steps, notices := testManager(t)
	n, err := m.Create(DefaultBridge, "")
	if err != nil {
		t.Fatalf("Create(ctrkit0) = %v", err)
	}
	if n.Subnet != "10.213.0.0/24" || n.Gateway != "10.213.0.1" {
		t.Errorf("Create(ctrkit0) = subnet %s gateway %s, want 10.213.0.0/24 and 10.213.0.1", n.Subnet, n.Gateway)
	}
	if len(*notices) != 1 || !strings.Contains((*notices)[0], "IPv4 forwarding was off") {
		t.Errorf("Create in a fresh namespace noticed %q, want that forwarding was turned on", *notices)
	}
	if again, err := m.Create(DefaultBridge, "10.213.0.0/24"); err != nil || again.Subnet != n.Subnet {
		t.Errorf("Create(ctrkit0) again = %+v, %v, want the same network", again, err)
	}
	if _, err := m.Create(DefaultBridge, "10.214.0.0/24"); err == nil || !strings.Contains(err.Error(), "exists with subnet 10.213.0.0/24") {
		t.Errorf("Create(ctrkit0, another subnet) = %v, want \"exists with subnet\"", err)
	}

	web, db := newID(t, m), newID(t, m)
	doc := &specs.Spec{Version: specs.Version, Hostname: "www", Root: &specs.Root{Path: "rootfs"}}
	a, err := m.Attach(doc, Options{ID: web, Publish: []string{"8080:80"}})
	if err != nil {
		t.Fatalf("Attach(%s -p 8080:80) = %v", web, err)
	}
	if a.IP.String() != "10.213.0.2" || a.Netns != "/run/netns/ck-"+web {
		t.Errorf("Attach(%s) = %s in %s, want 10.213.0.2 in /run/netns/ck-%s", web, a.IP, a.Netns, web)
	}
	if got, _ := netcfg.AddrOf(a.Netns, "eth0"); len(got) != 1 || got[0] != "10.213.0.2/24" {
		t.Errorf("eth0 of %s has %v, want 10.213.0.2/24", web, got)
	}
	if got := doc.Linux.Namespaces; len(got) != 1 || got[0].Path != a.Netns {
		t.Errorf("document namespaces = %+v, want the network one at %s", got, a.Netns)
	}
	if len(doc.Mounts) != 3 || doc.Mounts[2].Destination != "/etc/hostname" {
		t.Errorf("document mounts = %+v, want resolv.conf, hosts, hostname", doc.Mounts)
	}
	if b, _ := os.ReadFile(filepath.Join(m.State, web, "hosts")); !strings.Contains(string(b), "10.213.0.2\twww\n") {
		t.Errorf("STATE/%s/hosts = %q, want 10.213.0.2 www", web, b)
	}
	rs, _ := spec.Resources(doc)
	var kinds []string
	for _, r := range rs {
		kinds = append(kinds, r.Kind)
	}
	if got := strings.Join(kinds, " "); got != "netns link address nft-rule" {
		t.Errorf("recorded resources = %q, want netns link address nft-rule", got)
	}
	if _, err := m.Attach(&specs.Spec{}, Options{ID: web}); err == nil || !strings.Contains(err.Error(), "is attached already") {
		t.Errorf("Attach(%s) twice = %v, want \"is attached already\"", web, err)
	}
	if _, err := m.Attach(&specs.Spec{}, Options{ID: db, Publish: []string{"8080:81"}}); err == nil || !strings.Contains(err.Error(), "published already, by container "+web) {
		t.Errorf("Attach(%s -p 8080:81) = %v, want \"published already\"", db, err)
	}
	gone(t, m, db)
	if _, err := m.Attach(&specs.Spec{}, Options{ID: db}); err != nil {
		t.Fatalf("Attach(%s) = %v", db, err)
	}
	// The two containers reach each other over the bridge.
	nettest.Run(t, "ip", "netns", "exec", "ck-"+db, "busybox", "ping", "-c", "1", "-W", "2", "10.213.0.2")

	topo, err := m.Show()
	if err != nil || len(topo.Networks) != 1 {
		t.Fatalf("Show() = %+v, %v", topo, err)
	}
	v := topo.Networks[0]
	if v.State != "up" || len(v.Members) != 2 || v.Missing || len(v.Lost) != 0 {
		t.Errorf("Show(): ctrkit0 %s with %d members (missing %v, lost %v), want up with 2", v.State, len(v.Members), v.Missing, v.Lost)
	}
	for _, mb := range v.Members {
		if mb.Endpoint == nil || mb.State != "up" || len(mb.Eth0) != 1 || mb.Eth0[0] != mb.Endpoint.IP+"/24" {
			t.Errorf("Show() member %+v: want a ctrkit veth, up, eth0 with its address", mb)
		}
	}
	if got := topo.Rules["prerouting"]; len(got) != 1 || got[0] != web {
		t.Errorf("Show().Rules[prerouting] = %v, want [%s]", got, web)
	}
	checks, err := m.Doctor()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Level == "FAIL" {
			t.Errorf("Doctor(): %s %s", c.Level, c.What)
		}
	}

	if err := m.Remove(DefaultBridge); err == nil || !strings.Contains(err.Error(), "2 container(s) attached") {
		t.Errorf("Remove(ctrkit0) with containers = %v, want \"detach them first\"", err)
	}
	for _, id := range []string{web, db} {
		if found, err := m.Detach(id); !found || err != nil {
			t.Errorf("Detach(%s) = %v, %v, want found", id, found, err)
		}
		gone(t, m, id)
	}
	if !strings.Contains(steps.String(), "$ ip netns del ck-"+web) || !strings.Contains(steps.String(), "$ nft delete rule ip ctrkit prerouting handle") {
		t.Errorf("Detach explained no ip netns del / nft delete rule:\n%s", steps)
	}
	if found, err := m.Detach(web); found || err != nil {
		t.Errorf("Detach(%s) again = %v, %v, want not found, no error", web, found, err)
	}
	if err := m.Remove(DefaultBridge); err != nil {
		t.Fatalf("Remove(ctrkit0) = %v", err)
	}
	if netcfg.LinkExists(DefaultBridge) || nettest.Run(t, "nft", "list", "tables") != "" {
		t.Errorf("Remove(ctrkit0) left the bridge or a table")
	}
	if err := m.Remove(DefaultBridge); err == nil || !strings.Contains(err.Error(), `no network "ctrkit0"`) {
		t.Errorf("Remove(ctrkit0) again = %v, want \"no network\"", err)
	}
	if _, err := os.Stat(filepath.Join(m.State, "net")); !os.IsNotExist(err) {
		t.Errorf("STATE/net after the last network went: %v, want it gone", err)
	}
}

// TestAttachUndo: a step that fails in the kernel takes back every step
// before it: here the veth, because a link of its name exists.
func TestAttachUndo(t *testing.T) {
	nettest.Netns(t)
	m, _, _ := testManager(t)
	id := newID(t, m)
	if err := netcfg.EnsureBridge(nil, "ck-"+id, &net.IPNet{IP: net.IPv4(10, 9, 0, 1).To4(), Mask: net.CIDRMask(24, 32)}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Attach(&specs.Spec{}, Options{ID: id, Publish: []string{"8080:80"}})
	if err == nil || !strings.Contains(err.Error(), "a link of that name exists already") {
		t.Fatalf("Attach(%s) with ck-%s taken = %v, want \"exists already\"", id, id, err)
	}
	if _, err := os.Stat("/run/netns/ck-" + id); !os.IsNotExist(err) {
		t.Errorf("the namespace of the failed attach is left: %v", err)
	}
	nets, _ := m.List()
	if _, ep := ipam.Find(nets, id); ep != nil {
		t.Errorf("the failed attach still holds address %s", ep.IP)
	}
	if _, err := os.Stat(filepath.Join(m.State, id)); !os.IsNotExist(err) {
		t.Errorf("STATE/%s of the failed attach is left: %v", id, err)
	}
	netcfg.DeleteLink(nil, "ck-"+id)
}

func TestCreateChecks(t *testing.T) {
	nettest.Netns(t)
	m, steps, _ := testManager(t)
	if err := netcfg.EnsureBridge(nil, "ckup0", &net.IPNet{IP: net.IPv4(10, 213, 0, 1).To4(), Mask: net.CIDRMask(24, 32)}); err != nil {
		t.Fatal(err)
	}
	// 10.213.0.0/24 is the host's: the default choice moves on.
	n, err := m.Create(DefaultBridge, "")
	if err != nil || n.Subnet != "10.213.1.0/24" {
		t.Errorf("Create(ctrkit0) next to a route 10.213.0.0/24 = %+v, %v, want 10.213.1.0/24", n, err)
	}
	if !strings.Contains(steps.String(), "subnet 10.213.0.0/24 overlaps the route 10.213.0.0/24 dev ckup0: trying the next one") {
		t.Errorf("explain output lacks the skipped subnet:\n%s", steps)
	}
	for _, tt := range []struct{ name, subnet, want string }{
		{"ckbr1", "10.213.0.0/25", `overlaps the host's route "10.213.0.0/24 dev ckup0"`},
		{"ckbr1", "10.213.1.0/25", `overlaps 10.213.1.0/24 of ctrkit network "ctrkit0"`},
		{"ckup0", "10.99.0.0/24", `a link named "ckup0" exists and ctrkit did not make it`},
		{"ctrkit-much-too-long", "", "Linux allows at most 15"},
		{"nope", "10.1.2.3/24", "did you mean"},
	} {
		if _, err := m.Create(tt.name, tt.subnet); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Create(%s, %s) = %v, want %q", tt.name, tt.subnet, err, tt.want)
		}
	}
	if _, err := m.Attach(&specs.Spec{}, Options{ID: "x", Name: "nope"}); err == nil || !strings.Contains(err.Error(), "create it first") {
		t.Errorf("Attach(--name nope) = %v, want \"create it first\"", err)
	}
	if err := m.Remove(DefaultBridge); err != nil {
		t.Fatal(err)
	}
}

// TestBridgeLost: as after a reboot, the records know ctrkit0, the kernel
// does not; the next attach makes it again.
func TestBridgeLost(t *testing.T) {
	nettest.Netns(t)
	m, steps, _ := testManager(t)
	if _, err := m.Create(DefaultBridge, ""); err != nil {
		t.Fatal(err)
	}
	netcfg.DeleteLink(nil, DefaultBridge)
	checks, _ := m.Doctor()
	missing := false
	for _, c := range checks {
		missing = missing || (c.Level == "FAIL" && strings.Contains(c.What, "bridge ctrkit0 is missing"))
	}
	if !missing {
		t.Errorf("Doctor() with the bridge gone: no FAIL saying it is missing in %+v", checks)
	}
	if topo, _ := m.Show(); !topo.Networks[0].Missing {
		t.Errorf("Show() with the bridge gone: not marked missing")
	}
	id := newID(t, m)
	if _, err := m.Attach(&specs.Spec{}, Options{ID: id}); err != nil {
		t.Fatalf("Attach after the bridge vanished = %v", err)
	}
	if !strings.Contains(steps.String(), "its bridge ctrkit0 is gone: making it again") || netcfg.LinkState(DefaultBridge) != "up" {
		t.Errorf("the bridge was not made again:\n%s", steps)
	}
	m.Detach(id)
	m.Remove(DefaultBridge)
}

func TestAttachNoneAndMacvlan(t *testing.T) {
	nettest.Netns(t)
	m, _, _ := testManager(t)
	alone, lan := newID(t, m), newID(t, m)
	a, err := m.Attach(&specs.Spec{}, Options{ID: alone, Network: "none"})
	if err != nil || a.IP != nil {
		t.Fatalf("Attach(--network none) = %+v, %v", a, err)
	}
	if got := nettest.Run(t, "ip", "-n", "ck-"+alone, "-o", "link"); strings.Count(got, "\n") != 1 || !strings.Contains(got, "lo: <LOOPBACK,UP") {
		t.Errorf("ip -n ck-%s link = %q, want only lo, up", alone, got)
	}

	// The LAN's uplink (a bridge does as a macvlan parent), 192.0.2.1 its address.
	if err := netcfg.EnsureBridge(nil, "ckup0", &net.IPNet{IP: net.IPv4(192, 0, 2, 1).To4(), Mask: net.CIDRMask(24, 32)}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Attach(&specs.Spec{}, Options{ID: lan, Network: "macvlan", Parent: "ckup0", Subnet: "192.0.2.0/24", Gateway: "198.51.100.1"}); err == nil || !strings.Contains(err.Error(), "is not an address in 192.0.2.0/24") {
		t.Errorf("Attach(macvlan --gateway outside) = %v, want an error", err)
	}
	if _, err := m.Attach(&specs.Spec{}, Options{ID: lan, Network: "macvlan", Parent: "nothere", Subnet: "192.0.2.0/24"}); err == nil || !strings.Contains(err.Error(), "--parent") {
		t.Errorf("Attach(macvlan --parent nothere) = %v, want a --parent error", err)
	}
	a, err = m.Attach(&specs.Spec{}, Options{ID: lan, Network: "macvlan", Parent: "ckup0", Subnet: "192.0.2.0/24", Gateway: "192.0.2.2"})
	if err != nil {
		t.Fatalf("Attach(macvlan) = %v", err)
	}
	if a.IP.String() != "192.0.2.3" { // .1 is the parent's own, .2 the gateway
		t.Errorf("Attach(macvlan) = %s, want 192.0.2.3", a.IP)
	}
	topo, err := m.Show()
	if err != nil || len(topo.Networks) != 2 {
		t.Fatalf("Show() = %+v, %v", topo, err)
	}
	for _, v := range topo.Networks {
		if len(v.Members) != 1 {
			t.Errorf("Show(): network %s has %d members, want 1", v.Name, len(v.Members))
		}
	}
	for _, id := range []string{alone, lan} {
		if _, err := m.Detach(id); err != nil {
			t.Error(err)
		}
		gone(t, m, id)
	}
	if nets, _ := m.List(); len(nets) != 0 {
		t.Errorf("networks left after the last none/macvlan container: %v", ipam.Names(nets))
	}
}
