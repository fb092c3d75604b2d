package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"ctrkit/internal/cli"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
	"ctrkit/net-bridge/network"
)

type ShowCmd struct {
	Format string `enum:"text,mermaid" default:"text" help:"text (a tree), or mermaid: a Mermaid flowchart of the same live topology (show_mermaid.go)."`
}

func (c *ShowCmd) Help() string {
	return `Reads the kernel, not only ctrkit's records: the links plugged into each bridge (ip link show
master BRIDGE), the address of eth0 inside each container's namespace, and the rules of table
ip ctrkit, and draws them as a tree. A link the records do not know, or a record whose link
is gone, is marked.`
}

func (c *ShowCmd) Run(g *cli.Globals, s *Stdio) error {
	t, err := manager(g, s).Show()
	if err != nil {
		return err
	}
	out := s.Stdout
	if c.Format == "mermaid" {
		return showMermaid(out, t)
	}
	if len(t.Networks) == 0 {
		fmt.Fprintln(out, "no ctrkit networks (net-bridge create makes one)")
		return nil
	}
	fmt.Fprintln(out, "host (this network namespace)")
	for i, v := range t.Networks {
		branch, indent := "├── ", "│   "
		if i == len(t.Networks)-1 {
			branch, indent = "└── ", "    "
		}
		fmt.Fprintf(out, "%s%s\n", branch, header(v))
		rows := members(v)
		for j, r := range rows {
			b := "├── "
			if j == len(rows)-1 {
				b = "└── "
			}
			fmt.Fprintf(out, "%s%s%s\n", indent, b, r)
		}
	}
	printRules(out, t)
	return nil
}

// header is a network's line in the tree.
func header(v network.View) string {
	switch v.Driver {
	case ipam.Bridge:
		return fmt.Sprintf("%s  bridge %s  %s  (subnet %s)", v.Link, v.State, strings.Join(v.Addrs, ","), v.Subnet)
	case ipam.Macvlan:
		return fmt.Sprintf("%s  macvlan parent %s  (subnet %s, gateway %s)", v.Name, v.Link, v.Subnet, v.Gateway)
	case ipam.Overlay:
		return fmt.Sprintf("%s  overlay bridge %s  mtu %d  (subnet %s, this host's range %s)", v.Link, v.State, v.MTU, v.Subnet, v.Range)
	}
	return "none  (only lo)"
}

// members are the lines under a network's.
func members(v network.View) []string {
	var rows []string
	if v.Missing {
		rows = append(rows, fmt.Sprintf("!! bridge %s is missing from the kernel", v.Link))
	}
	if v.Driver == ipam.Overlay {
		rows = append(rows, overlayRows(v)...)
	}
	for _, m := range v.Members {
		switch {
		case v.Driver == "none":
			rows = append(rows, fmt.Sprintf("%s  lo only  (container %s)", m.Endpoint.Netns, m.Endpoint.ID))
		case m.Endpoint == nil:
			rows = append(rows, fmt.Sprintf("%s  veth %s  (not made by ctrkit)", m.Link, m.State))
		case v.Driver == ipam.Macvlan:
			rows = append(rows, endpointRow(m, "macvlan of "+v.Link+" ══ "))
		default:
			rows = append(rows, endpointRow(m, "veth "+m.Link+" "+m.State+" ══ "))
		}
	}
	for _, ep := range v.Lost {
		rows = append(rows, fmt.Sprintf("!! %s recorded for container %s but not on the bridge", ep.HostLink, ep.ID))
	}
	return rows
}

func endpointRow(m network.Member, prefix string) string {
	live := "eth0 " + strings.Join(m.Eth0, ",")
	if m.Eth0Err != nil {
		live = "eth0 missing"
	}
	ns := m.Endpoint.Netns
	if filepath.Dir(ns) == netcfg.NetnsDir {
		ns = "netns " + filepath.Base(ns)
	}
	s := fmt.Sprintf("%s%s  %s  (container %s)", prefix, live, ns, m.Endpoint.ID)
	for _, p := range m.Endpoint.Ports {
		s += "  -p " + p.String()
	}
	return s
}

// printRules summarizes the live table by chain and owner, then says what
// each network's and container's rules do.
func printRules(out io.Writer, t *network.Topology) {
	fmt.Fprintf(out, "\nnftables table ip %s (live):\n", nat.Table)
	if t.Rules == nil {
		fmt.Fprintln(out, "  (no table)")
	}
	for _, ch := range []string{"prerouting", "output", "postrouting", "forward"} {
		count := map[string]int{}
		var owners []string
		for _, o := range t.Rules[ch] {
			if count[o] == 0 {
				owners = append(owners, o)
			}
			count[o]++
		}
		var parts []string
		for _, o := range owners {
			parts = append(parts, fmt.Sprintf("%d for %s", count[o], o))
		}
		if len(parts) > 0 {
			fmt.Fprintf(out, "  %-12s %s\n", ch, strings.Join(parts, ", "))
		}
	}
	for _, v := range t.Networks {
		if v.Driver == ipam.Bridge {
			fmt.Fprintf(out, "  masquerade   %s leaving by any interface but %s gets the outgoing interface's address\n", v.Subnet, v.Link)
		}
		for _, id := range network.SortedIDs(v.Network) {
			ep := v.Endpoints[id]
			for _, p := range ep.Ports {
				host := "*"
				if p.HostIP != "" {
					host = p.HostIP
				}
				fmt.Fprintf(out, "  dnat         %s:%d/%s (also 127.0.0.1) → %s:%d  (container %s)\n", host, p.HostPort, p.Proto, ep.IP, p.CtrPort, id)
			}
		}
	}
}

// overlayRows draw an overlay's VXLAN device: what it is, where it sends,
// and its forwarding entries.
func overlayRows(v network.View) []string {
	rows := []string{fmt.Sprintf("%s  vxlan id %d local %s dstport %d nolearning  %s  (tx %d rx %d packets)",
		v.VXLAN, v.VNI, v.Underlay, netcfg.VXLANPort, v.VXLANState, v.Tx, v.Rx)}
	for _, h := range v.Hosts {
		if h.Self {
			continue
		}
		rows = append(rows, fmt.Sprintf("══ udp %d ══ peer %s  (its containers get %s)", netcfg.VXLANPort, h.Underlay, h.Range))
	}
	for _, e := range v.FDB {
		what := "flood: broadcast and unknown unicast go to " + e.Dst
		if e.Master {
			what = "learned by the bridge: this MAC is behind " + v.VXLAN + ", on another host"
		}
		rows = append(rows, fmt.Sprintf("fdb %s  (%s)", e, what))
	}
	return rows
}
