package network

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	"ctrkit/net-bridge/ipam"

	"github.com/google/go-cmp/cmp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// testManager is a Manager with its state in a temporary directory, its
// explain steps in steps and its notices in notices.
func testManager(t *testing.T) (m *Manager, steps *bytes.Buffer, notices *[]string) {
	steps = &bytes.Buffer{}
	notices = &[]string{}
	m = &Manager{
		State:  t.TempDir(),
		Log:    explain.New("net-bridge", steps, true),
		Notice: func(format string, a ...any) { *notices = append(*notices, format) },
	}
	return m, steps, notices
}

func TestResolvConf(t *testing.T) {
	host := "# generated\nnameserver 127.0.0.53\n\nnameserver 192.0.2.53\nnameserver ::1\nsearch example.org\nnameserver bogus\n"
	want := "# generated\nnameserver 192.0.2.53\nsearch example.org\n"
	got, servers := resolvConf(host)
	if got != want || servers != 1 {
		t.Errorf("resolvConf(%q) = %q, %d, want %q, 1", host, got, servers, want)
	}
	if _, servers := resolvConf("nameserver 127.0.0.53\n"); servers != 0 {
		t.Errorf("resolvConf(only systemd-resolved) counts %d servers, want 0", servers)
	}
}

func TestHosts(t *testing.T) {
	if got := hosts("web", net.IPv4(10, 213, 0, 2)); !strings.HasSuffix(got, "\n10.213.0.2\tweb\n") || !strings.HasPrefix(got, "127.0.0.1\tlocalhost\n") {
		t.Errorf("hosts(web, 10.213.0.2) = %q", got)
	}
	if got := hosts("alone", nil); strings.Contains(got, "alone") {
		t.Errorf("hosts(alone, no address) = %q, want no line for alone", got)
	}
}

func TestNewPlan(t *testing.T) {
	ns := filepath.Join(t.TempDir(), "ns")
	os.WriteFile(ns, nil, 0o444)
	tests := []struct {
		id   string
		o    Options
		want string // an error's text, or "" for a plan
	}{
		{"web", Options{Network: "bridge", Name: "ctrkit0", Publish: []string{"8080:80"}}, ""},
		{"web", Options{Network: "none"}, ""},
		{"web", Options{Network: "bridge", Netns: ns}, ""},
		{"web", Options{Network: "bridge", PID: os.Getpid()}, ""},
		{"web", Options{Network: "macvlan", Parent: "eth0"}, ""},
		{"-web", Options{Network: "bridge"}, "use letters, digits"},
		{"much-too-long-id", Options{Network: "bridge"}, "too long for its veth"},
		{"web", Options{Network: "bridge", Publish: []string{"80"}}, "want [HOSTIP:]HOSTPORT:CTRPORT"},
		{"web", Options{Network: "none", Publish: []string{"80:80"}}, "publishing ports needs --network bridge"},
		{"web", Options{Network: "bridge", Netns: ns + ".missing"}, "--netns: "},
		{"web", Options{Network: "bridge", PID: 1 << 30}, "--pid 1073741824: "},
		{"web", Options{Network: "macvlan"}, "needs --parent IF"},
	}
	for _, tt := range tests {
		p, err := newPlan(tt.id, tt.o)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("newPlan(%q, %+v) = %v, want a plan", tt.id, tt.o, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("newPlan(%q, %+v) = %v, want an error with %q", tt.id, tt.o, err, tt.want)
		case err == nil && p.link != "ck-"+tt.id:
			t.Errorf("newPlan(%q).link = %q, want ck-%s", tt.id, p.link, tt.id)
		}
	}
	p, _ := newPlan("web", Options{Network: "bridge", Name: "br1"})
	if want := (plan{id: "web", link: "ck-web", nsName: "ck-web", nsPath: "/run/netns/ck-web", ownNetns: true, netName: "br1"}); !cmp.Equal(*p, want, cmp.AllowUnexported(plan{})) {
		t.Errorf("newPlan(web, bridge br1) = %+v, want %+v", *p, want)
	}
	if p, _ := newPlan("web", Options{Network: "bridge", Netns: ns}); p.ownNetns || p.nsPath != ns {
		t.Errorf("newPlan(--netns %s) = %+v, want that path and not its own", ns, p)
	}
	if p, _ := newPlan("web", Options{Network: "macvlan", Parent: "eth0"}); p.netName != "macvlan-eth0" {
		t.Errorf("newPlan(macvlan eth0).netName = %q, want macvlan-eth0", p.netName)
	}
}

func TestParseSubnet(t *testing.T) {
	for cidr, want := range map[string]string{
		"":              "",
		"10.1.2.0/24":   "10.1.2.0/24",
		"10.1.2.0/30":   "10.1.2.0/30",
		"10.1.2.0/33":   "is not an address/prefix",
		"10.1.2.3/24":   "did you mean 10.1.2.0/24?",
		"10.1.2.0/31":   "too small",
		"fd00::/64":     "only IPv4",
		"not-a-network": "is not an address/prefix",
	} {
		sn, err := parseSubnet(cidr)
		got := ""
		if err != nil {
			got = err.Error()
		} else if sn != nil {
			got = sn.String()
		}
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("parseSubnet(%q) = %q, want %q", cidr, got, want)
		}
	}
}

func TestPortsFree(t *testing.T) {
	nets := map[string]*ipam.Network{"ctrkit0": {Name: "ctrkit0", Endpoints: map[string]*ipam.Endpoint{
		"web": {ID: "web", Ports: []ipam.Port{{HostPort: 8080, CtrPort: 80, Proto: "tcp"}}},
	}}}
	for _, tt := range []struct {
		p    ipam.Port
		want string
	}{
		{ipam.Port{HostPort: 8080, CtrPort: 81, Proto: "tcp"}, "port 8080:81/tcp is published already, by container web (8080:80/tcp)"},
		{ipam.Port{HostIP: "127.0.0.1", HostPort: 8080, CtrPort: 81, Proto: "tcp"}, "published already"},
		{ipam.Port{HostPort: 8080, CtrPort: 81, Proto: "udp"}, ""},
		{ipam.Port{HostPort: 8081, CtrPort: 80, Proto: "tcp"}, ""},
	} {
		err := portsFree(nets, []ipam.Port{tt.p})
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("portsFree(%s) = %v, want %q", tt.p, err, tt.want)
		}
	}
}

func TestSetNetns(t *testing.T) {
	doc := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}}}}
	setNetns(doc, "/run/netns/ck-web")
	want := []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace, Path: "/run/netns/ck-web"}}
	if diff := cmp.Diff(want, doc.Linux.Namespaces); diff != "" {
		t.Errorf("setNetns(ck-web) (-want +got):\n%s", diff)
	}
	setNetns(doc, "")
	if diff := cmp.Diff(want[:1], doc.Linux.Namespaces); diff != "" {
		t.Errorf("setNetns(\"\"): the host's network (-want +got):\n%s", diff)
	}
	doc = &specs.Spec{}
	setNetns(doc, "/x")
	if len(doc.Linux.Namespaces) != 1 {
		t.Errorf("setNetns on a document without linux: %+v", doc.Linux)
	}
}

// TestAttachHost: --network host makes nothing, so it needs no root.
func TestAttachHost(t *testing.T) {
	m, steps, _ := testManager(t)
	doc := &specs.Spec{Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.NetworkNamespace}}}}
	a, err := m.Attach(doc, Options{ID: "web", Network: "host"})
	if err != nil || a.ID != "web" || a.IP != nil || a.Netns != "" {
		t.Fatalf("Attach(--network host) = %+v, %v", a, err)
	}
	if len(doc.Linux.Namespaces) != 0 || doc.Annotations[spec.IDAnnotation] != "web" {
		t.Errorf("after Attach(--network host): namespaces %v, id %q, want none and web", doc.Linux.Namespaces, doc.Annotations[spec.IDAnnotation])
	}
	if !strings.Contains(steps.String(), "--network host: no namespace of its own") {
		t.Errorf("explain output lacks the --network host note:\n%s", steps)
	}
	if _, err := m.Attach(doc, Options{Network: "host", Publish: []string{"80:80"}}); err == nil || !strings.Contains(err.Error(), "nothing to publish") {
		t.Errorf("Attach(--network host -p 80:80) = %v, want \"nothing to publish\"", err)
	}
	if _, err := m.Attach(&specs.Spec{}, Options{ID: "much-too-long-id"}); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("Attach(--id much-too-long-id) = %v, want \"too long\"", err)
	}
}

// TestForget: detach removes net-bridge's files and records and keeps the
// other stages', rewriting the list whole; with nothing left, STATE/ID goes.
func TestForget(t *testing.T) {
	m, _, _ := testManager(t)
	doc := &specs.Spec{Annotations: map[string]string{spec.IDAnnotation: "web"}}
	for _, r := range []spec.Resource{
		{Stage: "fs-layer", Kind: "mount", Name: "/x/rootfs"},
		{Stage: stage, Kind: "netns", Name: "/run/netns/ck-web"},
		{Stage: stage, Kind: "link", Name: "ck-web"},
	} {
		if err := spec.Record(doc, m.State, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.writeFiles("web", "web", net.IPv4(10, 213, 0, 2)); err != nil {
		t.Fatal(err)
	}
	if err := m.forget("web"); err != nil {
		t.Fatalf("forget(web) = %v", err)
	}
	rs, err := spec.StateResources(m.State, "web")
	if err != nil || len(rs) != 1 || rs[0].Stage != "fs-layer" {
		t.Errorf("resources after forget = %+v, %v, want only fs-layer's", rs, err)
	}
	var ents []string
	dir, _ := os.ReadDir(filepath.Join(m.State, "web"))
	for _, e := range dir {
		ents = append(ents, e.Name())
	}
	if want := []string{".lock", "resources.json"}; !cmp.Equal(ents, want) {
		t.Errorf("STATE/web after forget = %v, want %v (no temporary file left)", ents, want)
	}
	data, _ := os.ReadFile(filepath.Join(m.State, "web", "resources.json"))
	if !json.Valid(data) {
		t.Errorf("resources.json after forget is not JSON: %q", data)
	}

	// Only net-bridge's: the directory goes.
	doc = &specs.Spec{Annotations: map[string]string{spec.IDAnnotation: "db"}}
	spec.Record(doc, m.State, spec.Resource{Stage: stage, Kind: "link", Name: "ck-db"})
	m.writeFiles("db", "db", nil)
	if err := m.forget("db"); err != nil {
		t.Fatalf("forget(db) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(m.State, "db")); !os.IsNotExist(err) {
		t.Errorf("STATE/db after forgetting its only stage: %v, want it gone", err)
	}
	if err := m.forget("never"); err != nil {
		t.Errorf("forget(never attached) = %v, want nil", err)
	}
	if _, err := os.Stat(filepath.Join(m.State, "never")); !os.IsNotExist(err) {
		t.Errorf("forget(never) made STATE/never")
	}
}

func TestNewMacvlanErrors(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{Parent: "ck-nosuchlink"}, "--parent: link \"ck-nosuchlink\""},
		{Options{Parent: "eth0", Subnet: "fd00::/64"}, "not an IPv4 address/prefix"},
	} {
		if _, err := (&Manager{}).newMacvlan("macvlan-eth0", tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("newMacvlan(%+v) = %v, want %q", tt.o, err, tt.want)
		}
	}
}

func TestUndo(t *testing.T) {
	var got []int
	var u undo
	for i := range 3 {
		u.push(func() { got = append(got, i) })
	}
	u.run()
	if want := []int{2, 1, 0}; !cmp.Equal(got, want) {
		t.Errorf("undo ran %v, want %v (newest first)", got, want)
	}
}

func TestHostRange(t *testing.T) {
	for _, tt := range []struct{ subnet, underlay, want string }{
		{"10.220.0.0/16", "198.51.100.1", "10.220.1.0/24"},
		{"10.220.0.0/16", "198.51.100.2", "10.220.2.0/24"},
		{"10.220.0.0/16", "192.0.2.255", "10.220.255.0/24"},
		{"10.0.0.0/8", "198.51.100.3", "10.3.0.0/16"},
		{"10.220.4.0/22", "198.51.100.1", "10.220.4.4/30"},
	} {
		_, sn, _ := net.ParseCIDR(tt.subnet)
		r, err := hostRange(sn, net.ParseIP(tt.underlay))
		if err != nil || r.String() != tt.want {
			t.Errorf("hostRange(%s, %s) = %v, %v, want %s", tt.subnet, tt.underlay, r, err, tt.want)
		}
	}
	_, sn, _ := net.ParseCIDR("10.220.0.0/24")
	if r, err := hostRange(sn, net.ParseIP("198.51.100.1")); err == nil {
		t.Errorf("hostRange(/24) = %v, want an error (256 ranges of 1 address)", r)
	}
}

func TestCreateOverlayRefuses(t *testing.T) {
	m := &Manager{State: t.TempDir()}
	nets := map[string]*ipam.Network{"other": {Name: "other", Driver: ipam.Overlay, Subnet: "10.99.0.0/16", VNI: 42}}
	for _, tt := range []struct {
		name string
		o    OverlayOptions
		want string
	}{
		{"averyverylongname", OverlayOptions{Subnet: "10.220.0.0/16", VNI: 1, Underlay: "198.51.100.1"}, "at most 12 bytes"},
		{"ov", OverlayOptions{VNI: 1, Underlay: "198.51.100.1"}, "needs --subnet"},
		{"ov", OverlayOptions{Subnet: "10.220.0.0/24", VNI: 1, Underlay: "198.51.100.1"}, "needs a /22 or larger"},
		{"ov", OverlayOptions{Subnet: "10.220.0.0/16", VNI: 0, Underlay: "198.51.100.1"}, "--vni 0"},
		{"ov", OverlayOptions{Subnet: "10.220.0.0/16", VNI: 1 << 24, Underlay: "198.51.100.1"}, "1 to 16777215"},
		{"ov", OverlayOptions{Subnet: "10.220.0.0/16", VNI: 1, Underlay: "fd00::1"}, "IPv4 address"},
		{"ov", OverlayOptions{Subnet: "10.220.0.0/16", VNI: 1, Underlay: "198.51.100.1", Peers: []string{"x"}}, "peer \"x\""},
		{"ov", OverlayOptions{Subnet: "10.220.0.0/16", VNI: 42, Underlay: "198.51.100.1"}, "vni 42 is in use by ctrkit network \"other\""},
		{"other", OverlayOptions{Subnet: "10.220.0.0/16", VNI: 42, Underlay: "198.51.100.1"}, "exists"},
	} {
		if _, err := m.createOverlay(nets, tt.name, tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("createOverlay(%q, %+v) = %v, want %q", tt.name, tt.o, err, tt.want)
		}
	}
}
