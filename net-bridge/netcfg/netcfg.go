// Package netcfg wires container networks with netlink
// (github.com/vishvananda/netlink, the library docker's libnetwork uses):
// bridges, veth pairs, macvlan links, addresses, routes and network
// namespaces. Each function says the `ip` command that does the same
// ("Equivalent to:"), and prints it in explain mode.
//
// The files: netcfg.go the host's links (bridge, delete, state), netns.go
// named network namespaces, container.go what goes into a container's
// namespace (veth, macvlan, address, route), routes.go reading addresses
// and routes, sysctl.go /proc/sys.
//
// Work inside a container's namespace goes through a netlink handle opened
// in that namespace (netlink.NewHandleAt), so the calling thread never
// leaves the host's namespace; only creating a namespace needs a thread of
// its own (see NewNetns).
//
// Only the netlink families used are opened. netlink.NewHandleAt(ns) with
// no family list opens a socket for each family the library knows (route,
// xfrm for IPsec, netfilter), and a kernel without the xfrm_user module
// (a minimal or locked-down one that cannot load modules) refuses the xfrm
// socket with "protocol not supported": every attach, even --network none,
// would fail for a family it never uses. So handles here ask for
// NETLINK_ROUTE only (links, addresses, routes); the netfilter socket is
// opened by package nat, and only where rules are written or read.
package netcfg

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"ctrkit/internal/explain"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NetnsDir is where named network namespaces live, as `ip netns` keeps them.
const NetnsDir = "/run/netns"

// IFNAMSIZ is the kernel's limit on interface names, the final NUL included:
// a name has at most 15 bytes.
const IFNAMSIZ = 16

// CheckName refuses a name the kernel would refuse as an interface name.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("interface name is empty")
	case len(name) > IFNAMSIZ-1:
		return fmt.Errorf("interface name %q is %d bytes; Linux allows at most %d (IFNAMSIZ)", name, len(name), IFNAMSIZ-1)
	case strings.ContainsAny(name, "/: \t\n") || name == "." || name == "..":
		return fmt.Errorf("interface name %q: no '/', ':' or white space allowed", name)
	}
	return nil
}

func hint(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w (needs root: CAP_NET_ADMIN)", err)
	}
	return err
}

// LinkExists reports whether the host has a link called name.
//
// Equivalent to: `ip link show NAME` (its exit status).
func LinkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// LinkState is "up" or "down" for link name, or "missing".
//
// Equivalent to: `ip -o link show NAME` (its UP flag).
func LinkState(name string) string {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return "missing"
	}
	if l.Attrs().Flags&net.FlagUp != 0 {
		return "up"
	}
	return "down"
}

// EnsureBridge creates bridge name with address gw (e.g. 10.213.0.1/24) and
// brings it up; what already exists is left as it is.
//
// Equivalent to: `ip link add NAME type bridge; ip addr add GW dev NAME; ip link set NAME up`.
func EnsureBridge(log *explain.Log, name string, gw *net.IPNet) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		log.Step(fmt.Sprintf("RTM_NEWLINK bridge %q", name), "ip link add "+name+" type bridge")
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %q: %w", name, hint(err))
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return err
		}
	} else if link.Type() != "bridge" {
		return fmt.Errorf("link %q exists and is a %s, not a bridge: choose another --name", name, link.Type())
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %q: %w", name, err)
	}
	have := false
	for _, a := range addrs {
		have = have || a.IPNet.String() == gw.String()
	}
	if !have {
		log.Step(fmt.Sprintf("RTM_NEWADDR %s dev %q", gw, name), fmt.Sprintf("ip addr add %s dev %s", gw, name))
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: gw}); err != nil {
			return fmt.Errorf("add address %s to %q: %w", gw, name, hint(err))
		}
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFF_UP", name), "ip link set "+name+" up")
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up %q: %w", name, hint(err))
	}
	return nil
}

// DeleteLink removes link name from the host; a veth takes its peer along.
// A link that is already gone is no error.
//
// Equivalent to: `ip link del NAME`.
func DeleteLink(log *explain.Log, name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	log.Step(fmt.Sprintf("RTM_DELLINK %q", name), "ip link del "+name)
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %q: %w", name, hint(err))
	}
	return nil
}

// Ports lists the links plugged into bridge, live from the kernel.
//
// Equivalent to: `ip -o link show master BRIDGE`.
func Ports(bridge string) ([]string, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil, err
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
}
