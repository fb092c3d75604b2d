package network

import (
	"fmt"
	"net"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
)

// defaultSubnets are tried in order: 10.213.X.0/24, away from Docker's
// 172.17.0.0/16 and podman's 10.88.0.0/16, and skipping any that overlaps a
// route of the host or another ctrkit network.
func defaultSubnets() []*net.IPNet {
	var out []*net.IPNet
	for x := 0; x < 256; x++ {
		out = append(out, &net.IPNet{IP: net.IPv4(10, 213, byte(x), 0).To4(), Mask: net.CIDRMask(24, 32)})
	}
	return out
}

// Create makes the bridge network name with subnet cidr ("": the first
// free default), or checks that the one that exists matches and that the
// kernel still has all of it. Running it again changes nothing.
//
// Equivalent to: `ip link add NAME type bridge; ip addr add GW/LEN dev NAME;
// ip link set NAME up; sysctl -w net.ipv4.ip_forward=1
// net.ipv4.conf.NAME.route_localnet=1` and the rules of nat.AddNetwork.
func (m *Manager) Create(name, cidr string) (*ipam.Network, error) {
	var n *ipam.Network
	err := m.Store().Update(func(nets map[string]*ipam.Network) error {
		var err error
		n, err = m.create(nets, name, cidr)
		return err
	})
	return n, err
}

// create is Create under the store's lock.
func (m *Manager) create(nets map[string]*ipam.Network, name, cidr string) (*ipam.Network, error) {
	if err := netcfg.CheckName(name); err != nil {
		return nil, fmt.Errorf("bridge name: %w", err)
	}
	subnet, err := parseSubnet(cidr)
	if err != nil {
		return nil, err
	}
	if n, ok := nets[name]; ok {
		if subnet != nil && n.Subnet != subnet.String() {
			return nil, fmt.Errorf("network %q exists with subnet %s, not %s: remove it first (net-bridge rm --name %s)", name, n.Subnet, subnet, name)
		}
		// Idempotent: make sure the kernel still has it all.
		_, sn, _ := net.ParseCIDR(n.Subnet)
		return n, m.wire(n, sn)
	}
	if subnet, err = m.chooseSubnet(nets, name, subnet); err != nil {
		return nil, err
	}
	if netcfg.LinkExists(name) {
		if other, state, ok := parseMark(netcfg.Alias(name)); ok {
			return nil, fmt.Errorf("bridge %q exists: ctrkit made it for network %q of state dir %s, not this one (%s): run with CTRKIT_STATE=%s, or if that state is gone, net-bridge doctor --fix removes the orphan",
				name, other, state, m.State, state)
		}
		return nil, fmt.Errorf("a link named %q exists and ctrkit did not make it: choose another --name", name)
	}
	n := &ipam.Network{Name: name, Driver: ipam.Bridge, Link: name, Subnet: subnet.String(),
		Gateway: ipam.FirstHost(subnet).String(), Endpoints: map[string]*ipam.Endpoint{}}
	if err := m.wire(n, subnet); err != nil {
		// Nothing half-made: what wire made goes again.
		nat.RemoveNetwork(nil, name)
		netcfg.DeleteLink(nil, name)
		return nil, err
	}
	nets[name] = n
	return n, nil
}

// parseSubnet checks a --subnet: IPv4, no host bits, room for a gateway
// and a container. "" is nil, no choice made.
func parseSubnet(cidr string) (*net.IPNet, error) {
	if cidr == "" {
		return nil, nil
	}
	ip, sn, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("subnet %q is not an address/prefix like 10.213.0.0/24", cidr)
	}
	if ip.To4() == nil {
		return nil, fmt.Errorf("subnet %q: only IPv4 subnets are supported", cidr)
	}
	if !ip.Equal(sn.IP) {
		return nil, fmt.Errorf("subnet %q has host bits set: did you mean %s?", cidr, sn)
	}
	if ones, _ := sn.Mask.Size(); ones > 30 {
		return nil, fmt.Errorf("subnet %q is too small: a /%d has no room for a gateway and a container (use /30 or larger)", cidr, ones)
	}
	return sn, nil
}

// chooseSubnet checks the subnet given against the other ctrkit networks
// and the host's routes, or picks the first default one that overlaps
// neither.
func (m *Manager) chooseSubnet(nets map[string]*ipam.Network, name string, subnet *net.IPNet) (*net.IPNet, error) {
	if subnet != nil {
		if what := overlapsNetwork(nets, subnet); what != "" {
			return nil, fmt.Errorf("subnet %s overlaps %s: choose another --subnet", subnet, what)
		}
		route, err := netcfg.Overlap(subnet, name)
		if err != nil {
			return nil, err
		}
		if route != "" {
			return nil, fmt.Errorf("subnet %s overlaps the host's route %q: containers would shadow that network; choose another --subnet", subnet, route)
		}
		return subnet, nil
	}
	for _, sn := range defaultSubnets() {
		if overlapsNetwork(nets, sn) != "" {
			continue
		}
		route, err := netcfg.Overlap(sn, name)
		if err != nil {
			return nil, err
		}
		if route == "" {
			return sn, nil
		}
		m.Log.Note("subnet %s overlaps the route %s: trying the next one", sn, route)
	}
	return nil, fmt.Errorf("every subnet 10.213.0.0/24 to 10.213.255.0/24 overlaps a route: give one with --subnet")
}

// overlapsNetwork names the ctrkit network whose subnet overlaps sn, or "".
func overlapsNetwork(nets map[string]*ipam.Network, sn *net.IPNet) string {
	for _, other := range ipam.Names(nets) {
		_, o, err := net.ParseCIDR(nets[other].Subnet)
		if err == nil && (o.Contains(sn.IP) || sn.Contains(o.IP)) {
			return fmt.Sprintf("%s of ctrkit network %q", o, other)
		}
	}
	return ""
}

// wire makes (or confirms) the bridge, its address, the sysctls and the
// nftables rules of n.
func (m *Manager) wire(n *ipam.Network, subnet *net.IPNet) error {
	gw := &net.IPNet{IP: net.ParseIP(n.Gateway).To4(), Mask: subnet.Mask}
	fresh := !netcfg.LinkExists(n.Link)
	if err := netcfg.EnsureBridge(m.Log, n.Link, gw); err != nil {
		return err
	}
	// The mark that tells doctor ctrkit made it, and for which state dir.
	if err := netcfg.SetAlias(m.Log, n.Link, m.mark(n)); err != nil {
		return err
	}
	changed, err := netcfg.SetSysctl(m.Log, "net/ipv4/ip_forward", "1")
	if err != nil {
		return err
	}
	if changed {
		m.notice("IPv4 forwarding was off in this network namespace: turned it on (sysctl net.ipv4.ip_forward=1), or containers could not reach beyond the host")
	}
	// Published ports reached from the host as 127.0.0.1 (see package nat).
	if _, err := netcfg.SetSysctl(m.Log, "net/ipv4/conf/"+n.Link+"/route_localnet", "1"); err != nil {
		return err
	}
	if !fresh {
		rules, err := nat.Rules()
		if err != nil {
			return err
		}
		for _, owners := range rules {
			for _, o := range owners {
				if o == "net "+n.Name {
					return nil
				}
			}
		}
	}
	return nat.AddNetwork(m.Log, n.Name, n.Link, subnet)
}

// Remove deletes the network name: its nftables rules (and the table when
// it is left empty) and its bridge. It refuses while containers are
// attached.
//
// Equivalent to: `nft delete rule ip ctrkit CHAIN handle H` for each of
// its rules, then `ip link del NAME`.
func (m *Manager) Remove(name string) error {
	return m.Store().Update(func(nets map[string]*ipam.Network) error {
		n, ok := nets[name]
		if !ok {
			return fmt.Errorf("no network %q (net-bridge ls lists them)", name)
		}
		if len(n.Endpoints) > 0 {
			return fmt.Errorf("network %q has %d container(s) attached: detach them first (net-bridge ls)", name, len(n.Endpoints))
		}
		if n.Driver == ipam.Overlay {
			// The flood entries go with the VXLAN device; an overlay has
			// no nftables rules.
			if err := netcfg.DeleteLink(m.Log, n.VXLAN); err != nil {
				return err
			}
			if err := netcfg.DeleteLink(m.Log, n.Link); err != nil {
				return err
			}
			delete(nets, name)
			return nil
		}
		if err := nat.RemoveNetwork(m.Log, n.Name); err != nil {
			return err
		}
		if n.Driver == ipam.Bridge {
			if err := netcfg.DeleteLink(m.Log, n.Link); err != nil {
				return err
			}
		}
		delete(nets, name)
		return nil
	})
}
