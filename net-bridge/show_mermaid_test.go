package main

import (
	"strings"
	"testing"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/network"
)

// showMermaid draws a topology as Show reads it: the bridge and veth in the
// host's namespace, eth0 in the container's, NAT as the paths packets take.
func TestShowMermaid(t *testing.T) {
	ep := &ipam.Endpoint{ID: "5f0e2b7c1a93", IP: "10.213.0.2", HostLink: "ck-5f0e2b7c1a93", Netns: "/run/netns/ck-5f0e2b7c1a93",
		Ports: []ipam.Port{{HostPort: 8080, CtrPort: 80, Proto: "tcp"}}}
	n := &ipam.Network{Name: "ctrkit0", Driver: ipam.Bridge, Link: "ctrkit0", Subnet: "10.213.0.0/24",
		Endpoints: map[string]*ipam.Endpoint{ep.ID: ep}}
	topo := &network.Topology{
		Networks: []network.View{{Network: n, State: "up", Addrs: []string{"10.213.0.1/24"},
			Members: []network.Member{{Link: ep.HostLink, State: "up", Endpoint: ep, Eth0: []string{"10.213.0.2/24"}}}}},
		Rules: map[string][]string{"prerouting": {"ctrkit 5f0e2b7c1a93"}, "postrouting": {"net ctrkit0", "net ctrkit0"}},
	}
	var b strings.Builder
	if err := showMermaid(&b, topo); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"flowchart LR\n  subgraph host[\"host (this network namespace)\"]\n",
		"    nft{{\"nftables table ip ctrkit: prerouting 1, postrouting 2 rules\"}}\n",
		"    net_ctrkit0[\"ctrkit0  bridge up  10.213.0.1/24  (subnet 10.213.0.0/24)\"]\n",
		"    link_ck_5f0e2b7c1a93(\"veth ck-5f0e2b7c1a93 up\")\n  end\n",
		"  subgraph ns_5f0e2b7c1a93[\"netns ck-5f0e2b7c1a93 (container 5f0e2b7c1a93)\"]\n    eth0_5f0e2b7c1a93(\"eth0 10.213.0.2/24\")\n  end\n",
		"  link_ck_5f0e2b7c1a93 <-->|\"veth pair\"| eth0_5f0e2b7c1a93\n",
		"  nft -.->|\"dnat *:8080/tcp → 10.213.0.2:80\"| eth0_5f0e2b7c1a93\n",
		"  net_ctrkit0 -.->|\"masquerade 10.213.0.0/24\"| out\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("showMermaid() lacks %q; got\n%s", want, b.String())
		}
	}
}
