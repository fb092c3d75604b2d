package main

import (
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"ctrkit/internal/mermaid"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
	"ctrkit/net-bridge/network"
)

// showMermaid draws the live topology as a Mermaid flowchart: the host's
// namespace with its bridges and the host ends of the veth pairs, each
// container's namespace with its eth0, and the NAT rules as the paths
// packets take (masquerade out, DNAT in for each published port).
func showMermaid(out io.Writer, t *network.Topology) error {
	f := mermaid.Flowchart{Dir: "LR"}
	f.Subgraph("host", "host (this network namespace)")
	if t.Rules != nil && slices.ContainsFunc(t.Networks, func(v network.View) bool { return v.Driver == ipam.Bridge }) {
		f.Node("out", mermaid.Stadium, "the host's other interfaces (the way out)")
	}
	if t.Rules != nil {
		f.Node("nft", mermaid.Hex, fmt.Sprintf("nftables table ip %s: %s", nat.Table, ruleCounts(t)))
	}
	for _, v := range t.Networks {
		net := "net_" + v.Name
		switch v.Driver {
		case ipam.Bridge, ipam.Overlay:
			f.Node(net, mermaid.Box, header(v))
		case ipam.Macvlan:
			f.Node(net, mermaid.Box, fmt.Sprintf("%s (macvlan parent of %s)", v.Link, v.Name))
		default:
			continue
		}
		if v.Driver == ipam.Overlay {
			f.Node("vx_"+v.Name, mermaid.Round, fmt.Sprintf("%s vxlan id %d local %s dstport %d, %s", v.VXLAN, v.VNI, v.Underlay, netcfg.VXLANPort, v.VXLANState))
		}
		for _, m := range v.Members {
			if m.Link != "" && m.Link != v.VXLAN {
				f.Node("link_"+m.Link, mermaid.Round, fmt.Sprintf("veth %s %s", m.Link, m.State))
			}
		}
	}
	f.End()
	for _, v := range t.Networks {
		if v.Driver != ipam.Overlay {
			continue
		}
		f.Edge("net_"+v.Name, "---", "vx_"+v.Name, "")
		for _, h := range v.Hosts {
			if !h.Self {
				f.Node("peer_"+h.Underlay, mermaid.Stadium, fmt.Sprintf("peer %s (its containers get %s)", h.Underlay, h.Range))
				f.Edge("vx_"+v.Name, "-.->", "peer_"+h.Underlay, fmt.Sprintf("udp %d", netcfg.VXLANPort))
			}
		}
	}
	for _, v := range t.Networks {
		net := "net_" + v.Name
		for _, m := range v.Members {
			if m.Endpoint == nil && m.Link == v.VXLAN && v.VXLAN != "" {
				continue // drawn above
			}
			if m.Endpoint == nil {
				f.Edge(net, "---", "link_"+m.Link, "not made by ctrkit")
				continue
			}
			ep := m.Endpoint
			ns := "ns_" + ep.ID
			name := ep.Netns
			if filepath.Dir(name) == netcfg.NetnsDir {
				name = "netns " + filepath.Base(name)
			}
			f.Subgraph(ns, fmt.Sprintf("%s (container %s)", name, ep.ID))
			eth0 := "eth0 " + strings.Join(m.Eth0, ",")
			switch {
			case v.Driver == "none":
				eth0 = "lo only"
			case m.Eth0Err != nil:
				eth0 = "eth0 missing"
			}
			f.Node("eth0_"+ep.ID, mermaid.Round, eth0)
			f.End()
			switch {
			case v.Driver == "none":
			case m.Link != "":
				f.Edge(net, "---", "link_"+m.Link, "")
				f.Edge("link_"+m.Link, "<-->", "eth0_"+ep.ID, "veth pair")
			default:
				f.Edge(net, "---", "eth0_"+ep.ID, v.Driver)
			}
			for _, p := range ep.Ports {
				host := "*"
				if p.HostIP != "" {
					host = p.HostIP
				}
				f.Edge("nft", "-.->", "eth0_"+ep.ID, fmt.Sprintf("dnat %s:%d/%s → %s:%d", host, p.HostPort, p.Proto, ep.IP, p.CtrPort))
			}
		}
		if v.Driver == ipam.Bridge && t.Rules != nil {
			f.Edge(net, "-.->", "out", fmt.Sprintf("masquerade %s", v.Subnet))
		}
	}
	_, err := f.WriteTo(out)
	return err
}

// ruleCounts is the live table in a few words: rules per chain.
func ruleCounts(t *network.Topology) string {
	var parts []string
	for _, ch := range []string{"prerouting", "output", "postrouting", "forward"} {
		if n := len(t.Rules[ch]); n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", ch, n))
		}
	}
	if len(parts) == 0 {
		return "no rules"
	}
	return strings.Join(parts, ", ") + " rules"
}
