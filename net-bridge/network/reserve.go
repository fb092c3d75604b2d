package network

import (
	"fmt"
	"net"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/netcfg"
)

// reserve is step 1 of an attach, under the store's lock: the network, an
// address, the ports. Only the state file changes here (and, for a network
// made on first use, its bridge).
func (m *Manager) reserve(p *plan, o Options) (n *ipam.Network, ip net.IP, err error) {
	err = m.Store().Update(func(nets map[string]*ipam.Network) error {
		if other, ep := ipam.Find(nets, p.id); ep != nil {
			return fmt.Errorf("container %s is attached already (network %q, %s): net-bridge detach %s", p.id, other.Name, ep.IP, p.id)
		}
		var err error
		if n, err = m.findNetwork(nets, p.netName, o); err != nil {
			return err
		}
		if err := portsFree(nets, p.ports); err != nil {
			return err
		}
		if n.Driver == "none" {
			n.Endpoints[p.id] = &ipam.Endpoint{ID: p.id}
		} else if ip, err = n.Allocate(p.id); err != nil {
			return err
		}
		ep := n.Endpoints[p.id]
		ep.Netns, ep.OwnNetns, ep.Ports = p.nsPath, p.ownNetns, p.ports
		if n.Bridged() {
			ep.HostLink = p.link
		}
		return nil
	})
	return n, ip, err
}

// release takes back what reserve recorded for container id, and the
// network when it was a macvlan or none network made just for it.
func (m *Manager) release(netName, id string) error {
	return m.Store().Update(func(nets map[string]*ipam.Network) error {
		if n := nets[netName]; n != nil {
			n.Release(id)
			if !n.Bridged() && len(n.Endpoints) == 0 {
				delete(nets, netName)
			}
		}
		return nil
	})
}

// portsFree refuses a port that another container published already.
func portsFree(nets map[string]*ipam.Network, ports []ipam.Port) error {
	for _, p := range ports {
		for _, name := range ipam.Names(nets) {
			for _, ep := range nets[name].Endpoints {
				for _, q := range ep.Ports {
					if p.Conflicts(q) {
						return fmt.Errorf("port %s is published already, by container %s (%s): choose another host port", p, ep.ID, q)
					}
				}
			}
		}
	}
	return nil
}

// findNetwork finds (or, for the defaults, makes) the network to attach
// to; it runs under the store's lock.
func (m *Manager) findNetwork(nets map[string]*ipam.Network, name string, o Options) (*ipam.Network, error) {
	if n, ok := nets[name]; ok {
		if n.Driver == ipam.Overlay && len(o.Publish) > 0 {
			return nil, fmt.Errorf("network %q is an overlay: publishing ports needs a bridge network (the host has no address on an overlay; Docker publishes through a second network, docker_gwbridge)", name)
		}
		if n.Driver == ipam.Overlay && (!netcfg.LinkExists(n.Link) || !netcfg.LinkExists(n.VXLAN)) {
			return n, m.rewireOverlay(n)
		}
		if n.Driver == ipam.Bridge && !netcfg.LinkExists(n.Link) {
			// The state outlived the bridge (a reboot, or the network
			// namespace holding it was deleted): make it again.
			m.Log.Note("network %q is recorded but its bridge %s is gone: making it again", name, n.Link)
			_, subnet, err := net.ParseCIDR(n.Subnet)
			if err != nil {
				return nil, fmt.Errorf("network %q: subnet %q: %w", name, n.Subnet, err)
			}
			if err := m.wire(n, subnet); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	switch o.Network {
	case "none":
		n := &ipam.Network{Name: name, Driver: "none", Endpoints: map[string]*ipam.Endpoint{}}
		nets[name] = n
		return n, nil
	case ipam.Macvlan:
		n, err := m.newMacvlan(name, o)
		if err != nil {
			return nil, err
		}
		nets[name] = n
		return n, nil
	}
	if name != DefaultBridge {
		return nil, fmt.Errorf("no network %q: create it first (net-bridge create --name %s)", name, name)
	}
	return m.create(nets, name, "")
}

// newMacvlan is the record of a macvlan network on o.Parent's LAN, made by
// its first container. The parent's own addresses are never handed out.
// Without --subnet, the LAN is the subnet of the parent's first address,
// as a docker user expects of `-o parent=eth0` on a configured interface.
func (m *Manager) newMacvlan(name string, o Options) (*ipam.Network, error) {
	if o.Subnet == "" {
		nets, err := netcfg.HostNets(o.Parent)
		if err != nil {
			return nil, fmt.Errorf("--parent: %w", err)
		}
		if len(nets) == 0 {
			return nil, fmt.Errorf("--network macvlan: %q has no IPv4 address to take its LAN's subnet from: give --subnet", o.Parent)
		}
		o.Subnet = nets[0].String()
		m.Log.Note("macvlan: the subnet of %s's address, %s", o.Parent, o.Subnet)
	}
	ipnet, sn, err := net.ParseCIDR(o.Subnet)
	if err != nil || ipnet.To4() == nil {
		return nil, fmt.Errorf("subnet %q is not an IPv4 address/prefix like 192.168.1.0/24", o.Subnet)
	}
	host, err := netcfg.HostAddrs(o.Parent)
	if err != nil {
		return nil, fmt.Errorf("--parent: %w", err)
	}
	gw := ipam.FirstHost(sn)
	if o.Gateway != "" {
		if gw = net.ParseIP(o.Gateway); gw == nil || !sn.Contains(gw) {
			return nil, fmt.Errorf("--gateway %q is not an address in %s", o.Gateway, sn)
		}
	}
	n := &ipam.Network{Name: name, Driver: ipam.Macvlan, Link: o.Parent, Subnet: sn.String(), Gateway: gw.String(), Endpoints: map[string]*ipam.Endpoint{}}
	for _, a := range host {
		n.Reserved = append(n.Reserved, a.String())
	}
	return n, nil
}
