package nat

import (
	"bytes"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"ctrkit/internal/explain"
	"ctrkit/net-bridge/internal/nettest"
	"ctrkit/net-bridge/ipam"

	"github.com/google/go-cmp/cmp"
)

func cidr(s string) *net.IPNet { _, n, _ := net.ParseCIDR(s); return n }

var ports = []ipam.Port{
	{HostPort: 8080, CtrPort: 80, Proto: "tcp"},
	{HostIP: "127.0.0.1", HostPort: 5353, CtrPort: 53, Proto: "udp"},
}

// nftList is `nft list table ip ctrkit`, "" when there is none.
func nftList(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("nft", "list", "table", "ip", Table).CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// TestExplainReplays is the promise of explain mode: the shell commands it
// prints, run by a learner with nft, make the very table net-bridge made
// through netlink.
func TestExplainReplays(t *testing.T) {
	nettest.Netns(t)
	var steps bytes.Buffer
	log := explain.New("net-bridge", &steps, true)
	if err := AddNetwork(log, "net0", "ckbr0", cidr("10.213.0.0/24")); err != nil {
		t.Fatalf("AddNetwork = %v", err)
	}
	if err := AddPorts(log, "web", "ckbr0", net.IPv4(10, 213, 0, 4), ports); err != nil {
		t.Fatalf("AddPorts = %v", err)
	}
	ours := nftList(t)
	if ours == "" {
		t.Fatal("no table ip ctrkit after AddNetwork")
	}
	nettest.Run(t, "nft", "delete", "table", "ip", Table)

	shell := regexp.MustCompile(`^\[net-bridge\] .*  \$ (.*)$`)
	var script []string
	for _, line := range strings.Split(strings.TrimSpace(steps.String()), "\n") {
		m := shell.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("explain line %q has no shell equivalent", line)
		}
		script = append(script, m[1])
	}
	nettest.Run(t, "sh", "-ec", strings.Join(script, "\n"))
	if diff := cmp.Diff(ours, nftList(t)); diff != "" {
		t.Errorf("nft list table ip ctrkit: made by net-bridge (-) vs by its explained commands (+):\n%s\nscript:\n%s", diff, strings.Join(script, "\n"))
	}
	for _, want := range []string{
		`ip saddr 10.213.0.0/24 oifname != "ckbr0" masquerade comment "ctrkit net net0"`,
		`fib daddr type local tcp dport 8080 dnat to 10.213.0.4:80 comment "ctrkit web"`,
		`ip daddr 127.0.0.1 fib daddr type local udp dport 5353 dnat to 10.213.0.4:53 comment "ctrkit web"`,
	} {
		if !strings.Contains(ours, want) {
			t.Errorf("nft list table ip ctrkit lacks %q:\n%s", want, ours)
		}
	}
}

func TestRulesAndRemove(t *testing.T) {
	nettest.Netns(t)
	if got, err := Rules(); got != nil || err != nil {
		t.Errorf("Rules() with no table = %v, %v, want nil, nil", got, err)
	}
	if err := RemovePorts(nil, "web"); err != nil {
		t.Errorf("RemovePorts with no table = %v, want nil", err)
	}
	if err := AddPorts(nil, "web", "ckbr0", net.IPv4(10, 213, 0, 4), nil); err != nil || nftList(t) != "" {
		t.Errorf("AddPorts(no ports) = %v and made a table: %q", err, nftList(t))
	}
	if err := AddNetwork(nil, "net0", "ckbr0", cidr("10.213.0.0/24")); err != nil {
		t.Fatal(err)
	}
	if err := AddPorts(nil, "web", "ckbr0", net.IPv4(10, 213, 0, 4), ports); err != nil {
		t.Fatal(err)
	}
	if err := AddPorts(nil, "db", "ckbr0", net.IPv4(10, 213, 0, 5), ports[:1]); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"prerouting":  {"web", "web", "db"},
		"output":      {"web", "web", "db"},
		"postrouting": {"net net0", "net net0"},
		"forward":     {"net net0", "net net0", "web", "web", "db"},
	}
	got, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Rules() (-want +got):\n%s", diff)
	}

	var steps bytes.Buffer
	if err := RemovePorts(explain.New("net-bridge", &steps, true), "web"); err != nil {
		t.Fatalf("RemovePorts(web) = %v", err)
	}
	if !strings.Contains(steps.String(), "$ nft delete rule ip ctrkit prerouting handle ") {
		t.Errorf("RemovePorts explained no nft delete rule:\n%s", steps.String())
	}
	list := nftList(t)
	if strings.Contains(list, `"ctrkit web"`) || !strings.Contains(list, `"ctrkit db"`) {
		t.Errorf("after RemovePorts(web): want db's rules and none of web's:\n%s", list)
	}
	if err := RemovePorts(nil, "db"); err != nil {
		t.Fatal(err)
	}
	if err := RemoveNetwork(nil, "net0"); err != nil {
		t.Fatalf("RemoveNetwork(net0) = %v", err)
	}
	if got := nettest.Run(t, "nft", "list", "tables"); got != "" {
		t.Errorf("nft list tables after the last owner went = %q, want none (the empty table goes too)", got)
	}
}

func TestForwardPolicies(t *testing.T) {
	nettest.Netns(t)
	if err := AddNetwork(nil, "net0", "ckbr0", cidr("10.213.0.0/24")); err != nil {
		t.Fatal(err)
	}
	if got, err := ForwardPolicies(); err != nil || len(got) != 0 {
		t.Errorf("ForwardPolicies() with only our table (policy accept) = %v, %v, want none", got, err)
	}
	// As iptables -P FORWARD DROP (iptables-nft) leaves it.
	nettest.Run(t, "nft", "add", "table", "ip", "filter")
	nettest.Run(t, "nft", "add", "chain", "ip", "filter", "FORWARD", "{ type filter hook forward priority 0; policy drop; }")
	got, err := ForwardPolicies()
	if want := []string{"table filter chain FORWARD policy drop"}; err != nil || !cmp.Equal(got, want) {
		t.Errorf("ForwardPolicies() = %v, %v, want %v", got, err, want)
	}
}
