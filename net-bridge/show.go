package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"ctrkit/internal/cli"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
)

type LsCmd struct{}

func (c *LsCmd) Run(g *cli.Globals) error {
	nets, err := store(g).Load()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNETWORK\tADDRESS\tPORTS\tNETNS")
	for _, name := range ipam.Names(nets) {
		n := nets[name]
		for _, id := range sortedIDs(n) {
			ep := n.Endpoints[id]
			var ps []string
			for _, p := range ep.Ports {
				ps = append(ps, p.String())
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", id, name, dash(ep.IP), dash(strings.Join(ps, ",")), ep.Netns)
		}
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedIDs(n *ipam.Network) []string {
	ids := make([]string, 0, len(n.Endpoints))
	for id := range n.Endpoints {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

type ShowCmd struct{}

func (c *ShowCmd) Help() string {
	return `Reads the kernel, not only ctrkit's records: the links plugged into each bridge (ip link show
master BRIDGE), the address of eth0 inside each container's namespace, and the rules of table
ip ctrkit, and draws them as a tree. A link the records do not know, or a record whose link
is gone, is marked.`
}

func (c *ShowCmd) Run(g *cli.Globals) error {
	nets, err := store(g).Load()
	if err != nil {
		return err
	}
	if len(nets) == 0 {
		fmt.Println("no ctrkit networks (net-bridge create makes one)")
		return nil
	}
	out := os.Stdout
	fmt.Fprintln(out, "host (this network namespace)")
	names := ipam.Names(nets)
	for i, name := range names {
		n := nets[name]
		last := i == len(names)-1
		branch, indent := "├── ", "│   "
		if last {
			branch, indent = "└── ", "    "
		}
		byLink := map[string]*ipam.Endpoint{}
		for _, ep := range n.Endpoints {
			if ep.HostLink != "" {
				byLink[ep.HostLink] = ep
			}
		}
		var rows []string
		switch n.Driver {
		case ipam.Bridge:
			addrs, _ := netcfg.AddrOf("", n.Link)
			fmt.Fprintf(out, "%s%s  bridge %s  %s  (subnet %s)\n", branch, n.Link, netcfg.LinkState(n.Link), strings.Join(addrs, ","), n.Subnet)
			ports, err := netcfg.Ports(n.Link)
			if err != nil {
				rows = append(rows, fmt.Sprintf("!! bridge %s is missing from the kernel", n.Link))
			}
			for _, p := range ports {
				ep := byLink[p]
				if ep == nil {
					rows = append(rows, fmt.Sprintf("%s  veth %s  (not made by ctrkit)", p, netcfg.LinkState(p)))
					continue
				}
				delete(byLink, p)
				rows = append(rows, endpointRow(ep, "veth "+p+" "+netcfg.LinkState(p)+" ══ "))
			}
			for _, ep := range byLink {
				rows = append(rows, fmt.Sprintf("!! %s recorded for container %s but not on the bridge", ep.HostLink, ep.ID))
			}
		case ipam.Macvlan:
			fmt.Fprintf(out, "%s%s  macvlan parent %s  (subnet %s, gateway %s)\n", branch, n.Name, n.Link, n.Subnet, n.Gateway)
			for _, id := range sortedIDs(n) {
				rows = append(rows, endpointRow(n.Endpoints[id], "macvlan of "+n.Link+" ══ "))
			}
		default:
			fmt.Fprintf(out, "%snone  (only lo)\n", branch)
			for _, id := range sortedIDs(n) {
				rows = append(rows, fmt.Sprintf("%s  lo only  (container %s)", n.Endpoints[id].Netns, id))
			}
		}
		for j, r := range rows {
			b := "├── "
			if j == len(rows)-1 {
				b = "└── "
			}
			fmt.Fprintf(out, "%s%s%s\n", indent, b, r)
		}
	}
	rules, err := nat.Rules()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\nnftables table ip %s (live):\n", nat.Table)
	if rules == nil {
		fmt.Fprintln(out, "  (no table)")
	}
	for _, ch := range []string{"prerouting", "output", "postrouting", "forward"} {
		count := map[string]int{}
		var owners []string
		for _, o := range rules[ch] {
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
	for _, name := range names {
		n := nets[name]
		if n.Driver == ipam.Bridge {
			fmt.Fprintf(out, "  masquerade   %s leaving by any interface but %s gets the outgoing interface's address\n", n.Subnet, n.Link)
		}
		for _, id := range sortedIDs(n) {
			for _, p := range n.Endpoints[id].Ports {
				host := "*"
				if p.HostIP != "" {
					host = p.HostIP
				}
				fmt.Fprintf(out, "  dnat         %s:%d/%s (also 127.0.0.1) → %s:%d  (container %s)\n", host, p.HostPort, p.Proto, n.Endpoints[id].IP, p.CtrPort, id)
			}
		}
	}
	return nil
}

func endpointRow(ep *ipam.Endpoint, prefix string) string {
	addrs, err := netcfg.AddrOf(ep.Netns, "eth0")
	live := strings.Join(addrs, ",")
	if err != nil {
		live = "eth0 missing"
	} else {
		live = "eth0 " + live
	}
	ns := ep.Netns
	if filepath.Dir(ns) == netcfg.NetnsDir {
		ns = "netns " + filepath.Base(ns)
	}
	s := fmt.Sprintf("%s%s  %s  (container %s)", prefix, live, ns, ep.ID)
	for _, p := range ep.Ports {
		s += "  -p " + p.String()
	}
	return s
}

type DoctorCmd struct{}

func (c *DoctorCmd) Help() string {
	return `Checks what usually breaks container networking, in the current network namespace:
IPv4 forwarding (net.ipv4.ip_forward), a forward-hook chain with policy drop in another table
(iptables' FORWARD DROP, which an accept in table ip ctrkit cannot override), br_netfilter
(bridge-nf-call-iptables: bridged traffic then passes the forward hook too), which iptables
backend is installed (nf_tables or legacy), and routes that overlap a ctrkit subnet.
Exits 1 when a check fails.`
}

func (c *DoctorCmd) Run(g *cli.Globals) error {
	fails := 0
	report := func(level, what, advice string) {
		if level == "FAIL" {
			fails++
		}
		line := fmt.Sprintf("%-4s %s", level, what)
		if advice != "" {
			line += "\n     " + advice
		}
		fmt.Println(line)
	}
	switch v, err := netcfg.Sysctl("net/ipv4/ip_forward"); {
	case err != nil:
		report("FAIL", "net.ipv4.ip_forward: "+err.Error(), "")
	case v == "1":
		report("ok", "IPv4 forwarding is on (net.ipv4.ip_forward = 1)", "")
	default:
		report("warn", "IPv4 forwarding is off (net.ipv4.ip_forward = 0)", "containers reach only the host; net-bridge create turns it on (sysctl -w net.ipv4.ip_forward=1)")
	}
	if drops, err := nat.ForwardPolicies(); err != nil {
		report("warn", "cannot list nftables chains: "+err.Error(), "run as root")
	} else if len(drops) > 0 {
		report("FAIL", "forwarded packets are dropped by default: "+strings.Join(drops, "; "),
			"an accept in table ip ctrkit does not override a drop elsewhere; allow the bridge there, e.g. iptables -I FORWARD -i ctrkit0 -j ACCEPT; iptables -I FORWARD -o ctrkit0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
	} else {
		report("ok", "no forward chain with policy drop (nftables, iptables-nft)", "")
	}
	if names, err := os.ReadFile("/proc/net/ip_tables_names"); err == nil && len(strings.TrimSpace(string(names))) > 0 {
		report("warn", "legacy iptables tables are loaded: "+strings.Join(strings.Fields(string(names)), ","),
			"their FORWARD policy is not visible to nftables: check iptables-legacy -S FORWARD")
	}
	if v, err := netcfg.Sysctl("net/bridge/bridge-nf-call-iptables"); err != nil {
		report("ok", "br_netfilter is not loaded: traffic between containers on one bridge skips the firewall", "")
	} else if v == "1" {
		report("ok", "br_netfilter: bridged IPv4 traffic passes the forward hook (bridge-nf-call-iptables = 1); table ip ctrkit accepts it", "")
	} else {
		report("ok", "br_netfilter loaded, bridge-nf-call-iptables = 0: bridged traffic skips the firewall", "")
	}
	if out, err := exec.Command("iptables", "-V").Output(); err == nil {
		report("ok", "iptables backend: "+strings.TrimSpace(string(out)), "")
	} else {
		report("ok", "no iptables command: nftables only (net-bridge needs no iptables)", "")
	}
	nets, err := store(g).Load()
	if err != nil {
		return err
	}
	for _, name := range ipam.Names(nets) {
		n := nets[name]
		if n.Driver != ipam.Bridge {
			continue
		}
		_, sn, _ := net.ParseCIDR(n.Subnet)
		if r, err := netcfg.Overlap(sn, n.Link); err == nil && r != "" {
			report("FAIL", fmt.Sprintf("network %s: subnet %s overlaps the route %q", n.Name, n.Subnet, r), "remove the route or recreate the network with another --subnet")
		} else {
			report("ok", fmt.Sprintf("network %s: subnet %s overlaps no other route", n.Name, n.Subnet), "")
		}
		if st := netcfg.LinkState(n.Link); st != "up" {
			report("FAIL", fmt.Sprintf("network %s: bridge %s is %s", n.Name, n.Link, st), "net-bridge create --name "+n.Name+" makes it again")
		}
	}
	if fails > 0 {
		return &cli.ExitError{Code: 1}
	}
	return nil
}
