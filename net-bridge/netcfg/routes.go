package netcfg

import (
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Overlap returns the first route of the host (any table) whose destination
// overlaps subnet, ignoring default routes and routes through skip (the
// network's own bridge); "" when there is none.
//
// Equivalent to: `ip -4 route show table all` and comparing each destination with SUBNET.
func Overlap(subnet *net.IPNet, skip string) (string, error) {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.To4() == nil {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			continue
		}
		if r.Table == unix.RT_TABLE_LOCAL {
			// local/broadcast routes of the host's own addresses: the
			// subnet routes next to them say the same.
			continue
		}
		dev := ""
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		if skip != "" && dev == skip {
			continue
		}
		if r.Dst.Contains(subnet.IP) || subnet.Contains(r.Dst.IP) {
			s := r.Dst.String()
			if dev != "" {
				s += " dev " + dev
			}
			return s, nil
		}
	}
	return "", nil
}

// AddrOf returns the IPv4 addresses of link name inside the namespace at
// path ("" for the host's), read live from the kernel.
//
// Equivalent to: `ip -n NAME -4 -o addr show dev LINK`.
func AddrOf(path, name string) ([]string, error) {
	h := &netlink.Handle{}
	if path != "" {
		var ns netns.NsHandle
		var err error
		if h, ns, err = nsHandle(path); err != nil {
			return nil, err
		}
		defer ns.Close()
		defer h.Close()
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, err
	}
	addrs, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String())
	}
	return out, nil
}

// HostAddrs lists the IPv4 addresses of link name on the host.
//
// Equivalent to: `ip -4 -o addr show dev LINK`.
func HostAddrs(name string) ([]net.IP, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("link %q: %w", name, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []net.IP
	for _, a := range addrs {
		out = append(out, a.IP)
	}
	return out, nil
}

// HostNets lists the IPv4 subnets link name's addresses are in.
//
// Equivalent to: `ip -4 -o route show dev LINK proto kernel scope link`.
func HostNets(name string) ([]*net.IPNet, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("link %q: %w", name, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []*net.IPNet
	for _, a := range addrs {
		out = append(out, &net.IPNet{IP: a.IP.Mask(a.Mask), Mask: a.Mask})
	}
	return out, nil
}
