package network

import (
	"net"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
)

// connect is step 2 of an attach, the kernel: the namespace, the link into
// it, lo, the address and route, the published ports. Each step pushes its
// undo on u.
func (m *Manager) connect(p *plan, n *ipam.Network, ip net.IP, u *undo) error {
	if p.ownNetns {
		if _, err := netcfg.NewNetns(m.Log, p.nsName); err != nil {
			return err
		}
		u.push(func() { netcfg.DeleteNetns(nil, p.nsPath) })
	}
	switch n.Driver {
	case "none":
		return netcfg.LoopbackUp(m.Log, p.nsPath)
	case ipam.Bridge, ipam.Overlay:
		if err := netcfg.Veth(m.Log, p.link, n.Link, p.nsPath, n.MTU); err != nil {
			return err
		}
		u.push(func() { netcfg.DeleteLink(nil, p.link) })
	case ipam.Macvlan:
		// Deleted with the namespace; in a namespace net-bridge did not
		// make, eth0 stays until that namespace ends.
		if err := netcfg.Macvlan(m.Log, n.Link, p.nsPath); err != nil {
			return err
		}
	}
	_, subnet, _ := net.ParseCIDR(n.Subnet)
	// An overlay has no gateway (nil: no default route); its subnet's
	// route comes with the address.
	if err := netcfg.Address(m.Log, p.nsPath, &net.IPNet{IP: ip, Mask: subnet.Mask}, net.ParseIP(n.Gateway)); err != nil {
		return err
	}
	if err := nat.AddPorts(m.Log, p.id, n.Link, ip, p.ports); err != nil {
		return err
	}
	u.push(func() { nat.RemovePorts(nil, p.id) })
	return nil
}
