package network

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
)

// Check is one finding of Doctor.
type Check struct {
	Level  string       // ok, warn or FAIL
	What   string       // what was found
	Advice string       // what to do about it; may be ""
	Fix    func() error // removes what was found (doctor --fix); nil: nothing to do
}

// Doctor checks what usually breaks container networking, in the current
// network namespace: IPv4 forwarding, a forward chain with policy drop in
// another table, legacy iptables, br_netfilter, the iptables backend, and
// for each bridge network its routes and its bridge, and orphans: a ctrkit
// bridge or rules no state dir records (orphans.go).
//
// Equivalent to: `sysctl net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables;
// nft list chains; cat /proc/net/ip_tables_names; iptables -V; ip route`.
func (m *Manager) Doctor() ([]Check, error) {
	var out []Check
	report := func(level, what, advice string) { out = append(out, Check{level, what, advice, nil}) }
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
	if v, err := exec.Command("iptables", "-V").Output(); err == nil {
		report("ok", "iptables backend: "+strings.TrimSpace(string(v)), "")
	} else {
		report("ok", "no iptables command: nftables only (net-bridge needs no iptables)", "")
	}
	nets, err := m.List()
	if err != nil {
		return out, err
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
	orphans, err := m.orphans(nets)
	if err != nil {
		return out, err
	}
	for _, o := range orphans {
		level := "warn"
		if o.fix != nil {
			level = "FAIL"
		}
		out = append(out, Check{level, o.what, o.advice, o.fix})
	}
	if len(orphans) == 0 {
		report("ok", "no orphan ctrkit bridge or nftables rules (left by a state dir that is gone)", "")
	}
	return out, nil
}
