package netcfg

import (
	"errors"
	"fmt"
	"net"

	"ctrkit/internal/explain"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// LoopbackUp brings up lo in the namespace at path: every container has it,
// even with --network none.
//
// Equivalent to: `ip -n NAME link set lo up`.
func LoopbackUp(log *explain.Log, path string) error {
	h, ns, err := nsHandle(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	return linkUp(log, h, path, "lo")
}

func linkUp(log *explain.Log, h *netlink.Handle, path, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %q in %s: %w", name, path, err)
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFF_UP (in %s)", name, path), nsCmd(path, "ip link set "+name+" up"))
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up %q in %s: %w", name, path, err)
	}
	return nil
}

// Veth creates a veth pair: host on the host, plugged into bridge and up,
// and eth0 created directly inside the namespace at path, so no name there
// ever collides with one on the host. mtu > 0 sets both ends' MTU (an
// overlay's, smaller than the wire's); 0 leaves the kernel's 1500.
//
// Equivalent to: `ip link add HOST [mtu MTU] master BRIDGE type veth peer name eth0 netns NAME; ip link set HOST up`.
func Veth(log *explain.Log, host, bridge, path string, mtu int) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("bridge %q: %w (create it: net-bridge create --name %s)", bridge, err, bridge)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: host, MasterIndex: br.Attrs().Index, MTU: mtu},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(ns),
	}
	call, cmd := fmt.Sprintf("RTM_NEWLINK veth %q", host), "ip link add "+host
	if mtu > 0 {
		call, cmd = call+fmt.Sprintf(" IFLA_MTU %d", mtu), cmd+fmt.Sprintf(" mtu %d", mtu)
	}
	log.Step(fmt.Sprintf("%s master %q peer \"eth0\" IFLA_NET_NS_FD %s", call, bridge, path),
		fmt.Sprintf("%s master %s type veth peer name eth0 netns %s", cmd, bridge, nsName(path)))
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create veth %q: a link of that name exists already", host)
		}
		return fmt.Errorf("create veth %q (peer eth0 in %s): %w", host, path, hint(err))
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFF_UP", host), "ip link set "+host+" up")
	if err := netlink.LinkSetUp(veth); err != nil {
		return fmt.Errorf("bring up %q: %w", host, err)
	}
	return nil
}

// Macvlan creates a macvlan link of parent (bridge mode: macvlans of one
// parent reach each other, and the wire; never the parent itself) directly
// inside the namespace at path, named eth0.
//
// Equivalent to: `ip link add eth0 link PARENT netns NAME type macvlan mode bridge`.
func Macvlan(log *explain.Log, parent, path string) error {
	p, err := netlink.LinkByName(parent)
	if err != nil {
		return fmt.Errorf("macvlan parent %q: %w", parent, err)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	// IFLA_NET_NS_FD in the request makes the kernel create the link in
	// the container's namespace straight away, so "eth0" is checked there.
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: "eth0", ParentIndex: p.Attrs().Index, Namespace: netlink.NsFd(ns)},
		Mode:      netlink.MACVLAN_MODE_BRIDGE,
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK macvlan \"eth0\" link %q mode bridge IFLA_NET_NS_FD %s", parent, path),
		fmt.Sprintf("ip link add eth0 link %s netns %s type macvlan mode bridge", parent, nsName(path)))
	if err := netlink.LinkAdd(mv); err != nil {
		return fmt.Errorf("create macvlan of %q in %s: %w", parent, path, hint(err))
	}
	return nil
}

// Address configures the container's side, inside the namespace at path:
// lo and eth0 up, addr on eth0, and a default route via gw (nil: none).
//
// Equivalent to: `ip -n NAME link set lo up; ip -n NAME addr add ADDR dev eth0; ip -n NAME link set eth0 up; ip -n NAME route add default via GW`.
func Address(log *explain.Log, path string, addr *net.IPNet, gw net.IP) error {
	h, ns, err := nsHandle(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	if err := linkUp(log, h, path, "lo"); err != nil {
		return err
	}
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0 in %s: %w", path, err)
	}
	log.Step(fmt.Sprintf("RTM_NEWADDR %s dev \"eth0\" (in %s)", addr, path), nsCmd(path, fmt.Sprintf("ip addr add %s dev eth0", addr)))
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: addr}); err != nil {
		return fmt.Errorf("add address %s to eth0 in %s: %w", addr, path, err)
	}
	if err := linkUp(log, h, path, "eth0"); err != nil {
		return err
	}
	if gw == nil {
		return nil
	}
	log.Step(fmt.Sprintf("RTM_NEWROUTE default via %s dev \"eth0\" (in %s)", gw, path), nsCmd(path, fmt.Sprintf("ip route add default via %s", gw)))
	if err := h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("add default route via %s in %s: %w", gw, path, err)
	}
	return nil
}
