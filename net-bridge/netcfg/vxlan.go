package netcfg

// The kernel objects of an overlay network: a VXLAN device (Linux 3.7;
// "nolearning" and the all-zero FDB entry with several remotes, 3.10) on a
// bridge, the flood entries of its forwarding database, and the checks on
// the underlay it sends through. What the overlay is and why it is built
// this way: net-bridge/network/overlay.go.

import (
	"errors"
	"fmt"
	"net"

	"ctrkit/internal/explain"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// VXLANPort is the UDP port IANA gave VXLAN (RFC 7348). The kernel's
	// default is still 8472, Linux's choice before the RFC: say dstport.
	VXLANPort = 4789
	// VXLANOverhead is what VXLAN puts around an Ethernet frame on an IPv4
	// underlay: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 bytes.
	VXLANOverhead = 50
	// MinMTU is the smallest MTU ctrkit gives a container: 576, the
	// datagram every IPv4 host must accept (RFC 791).
	MinMTU = 576
)

// zeroMAC is the address of the VXLAN device's default FDB entry: a frame
// for a MAC address with no entry of its own (broadcast, multicast, an
// unknown unicast) goes to every remote of this entry.
var zeroMAC = net.HardwareAddr{0, 0, 0, 0, 0, 0}

// Underlay finds the host's link that has address ip, and its MTU.
//
// Equivalent to: `ip -o addr show to IP`.
func Underlay(ip net.IP) (link string, mtu int, err error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return "", 0, fmt.Errorf("list addresses: %w", hint(err))
	}
	for _, a := range addrs {
		if a.IP.Equal(ip) {
			l, err := netlink.LinkByIndex(a.LinkIndex)
			if err != nil {
				return "", 0, err
			}
			return l.Attrs().Name, l.Attrs().MTU, nil
		}
	}
	return "", 0, fmt.Errorf("underlay address %s is not an address of this host (ip -4 addr lists them): give --underlay one of its own addresses", ip)
}

// CheckPeer refuses a peer this host cannot send to, or that is this host.
//
// Equivalent to: `ip route get PEER`.
func CheckPeer(peer net.IP) error {
	routes, err := netlink.RouteGet(peer)
	if err != nil || len(routes) == 0 {
		return fmt.Errorf("peer %s is unreachable: no route to it (ip route get %s): add the underlay's route or address first", peer, peer)
	}
	if routes[0].Type == unix.RTN_LOCAL {
		return fmt.Errorf("peer %s is an address of this host: a peer is another host's --underlay address", peer)
	}
	return nil
}

// VXLANWithID names the host's VXLAN device with identifier vni, or "".
//
// Equivalent to: `ip -d -o link show type vxlan | grep "id VNI "`.
func VXLANWithID(vni int) (string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return "", fmt.Errorf("list links: %w", hint(err))
	}
	for _, l := range links {
		if v, ok := l.(*netlink.Vxlan); ok && v.VxlanId == vni {
			return v.Name, nil
		}
	}
	return "", nil
}

// OverlayBridge creates the bridge of an overlay network with the
// overlay's MTU (no address: the host is not a member) and brings it up.
//
// Equivalent to: `ip link add NAME mtu MTU type bridge; ip link set NAME up`.
func OverlayBridge(log *explain.Log, name string, mtu int) error {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, MTU: mtu}}
	log.Step(fmt.Sprintf("RTM_NEWLINK bridge %q IFLA_MTU %d", name, mtu), fmt.Sprintf("ip link add %s mtu %d type bridge", name, mtu))
	if err := netlink.LinkAdd(br); err != nil {
		return fmt.Errorf("create bridge %q: %w", name, hint(err))
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFF_UP", name), "ip link set "+name+" up")
	if err := netlink.LinkSetUp(br); err != nil {
		return fmt.Errorf("bring up %q: %w", name, hint(err))
	}
	return nil
}

// VXLAN creates the VXLAN device name for identifier vni, sending from
// local through dev to UDP port 4789, plugged into bridge, and brings it
// up. nolearning: the device never learns which host a MAC address is
// behind from the frames it receives; its FDB holds only what ctrkit puts
// there (FloodAdd).
//
// Equivalent to: `ip link add NAME mtu MTU master BRIDGE type vxlan id VNI
// local LOCAL dev DEV dstport 4789 nolearning; ip link set NAME up`.
func VXLAN(log *explain.Log, name, bridge string, vni int, local net.IP, dev string, mtu int) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("bridge %q: %w", bridge, err)
	}
	under, err := netlink.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("underlay link %q: %w", dev, err)
	}
	vx := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: name, MTU: mtu, MasterIndex: br.Attrs().Index},
		VxlanId:      vni,
		SrcAddr:      local,
		VtepDevIndex: under.Attrs().Index,
		Port:         VXLANPort,
		Learning:     false,
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK vxlan %q IFLA_VXLAN_ID %d IFLA_VXLAN_LOCAL %s IFLA_VXLAN_LINK %q IFLA_VXLAN_PORT %d IFLA_VXLAN_LEARNING 0 master %q", name, vni, local, dev, VXLANPort, bridge),
		fmt.Sprintf("ip link add %s mtu %d master %s type vxlan id %d local %s dev %s dstport %d nolearning", name, mtu, bridge, vni, local, dev, VXLANPort))
	if err := netlink.LinkAdd(vx); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create vxlan %q: a device with VNI %d and port %d exists already (ip -d link show type vxlan): choose another --vni", name, vni, VXLANPort)
		}
		return fmt.Errorf("create vxlan %q (id %d): %w", name, vni, hint(err))
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFF_UP", name), "ip link set "+name+" up")
	if err := netlink.LinkSetUp(vx); err != nil {
		return fmt.Errorf("bring up %q: %w", name, hint(err))
	}
	return nil
}

// flood is the default FDB entry of device vx with remote peer.
func flood(vx string, peer net.IP) (*netlink.Neigh, error) {
	l, err := netlink.LinkByName(vx)
	if err != nil {
		return nil, fmt.Errorf("vxlan device %q: %w", vx, err)
	}
	return &netlink.Neigh{LinkIndex: l.Attrs().Index, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT | netlink.NUD_NOARP,
		Flags: netlink.NTF_SELF, IP: peer, HardwareAddr: zeroMAC}, nil
}

// FloodAdd adds peer to the remotes of the VXLAN device's default entry:
// every broadcast (ARP), multicast and unknown unicast frame is sent to
// each peer in a UDP datagram of its own (head-end replication). An entry
// that is there already is no error.
//
// Equivalent to: `bridge fdb append 00:00:00:00:00:00 dev VX dst PEER`.
func FloodAdd(log *explain.Log, vx string, peer net.IP) error {
	n, err := flood(vx, peer)
	if err != nil {
		return err
	}
	log.Step(fmt.Sprintf("RTM_NEWNEIGH AF_BRIDGE NLM_F_APPEND 00:00:00:00:00:00 dev %q NDA_DST %s NTF_SELF", vx, peer),
		fmt.Sprintf("bridge fdb append 00:00:00:00:00:00 dev %s dst %s", vx, peer))
	if err := netlink.NeighAppend(n); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("add flood entry for peer %s to %q: %w", peer, vx, hint(err))
	}
	return nil
}

// FloodDel removes peer from the remotes of the default entry; one that is
// gone already is no error.
//
// Equivalent to: `bridge fdb del 00:00:00:00:00:00 dev VX dst PEER`.
func FloodDel(log *explain.Log, vx string, peer net.IP) error {
	n, err := flood(vx, peer)
	if err != nil {
		return err
	}
	log.Step(fmt.Sprintf("RTM_DELNEIGH AF_BRIDGE 00:00:00:00:00:00 dev %q NDA_DST %s NTF_SELF", vx, peer),
		fmt.Sprintf("bridge fdb del 00:00:00:00:00:00 dev %s dst %s", vx, peer))
	if err := netlink.NeighDel(n); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove flood entry for peer %s from %q: %w", peer, vx, hint(err))
	}
	return nil
}

// FDBEntry is one line of `bridge fdb show dev VX`.
type FDBEntry struct {
	MAC    string
	Dst    string // the remote host's underlay address ("" for the bridge's entries)
	Master bool   // the bridge's entry (learned: which port a MAC is behind), not the device's own
	Static bool   // put there by hand (permanent), not learned
}

func (e FDBEntry) String() string {
	s := e.MAC
	if e.Dst != "" {
		s += " dst " + e.Dst
	}
	if e.Master {
		s += " master"
	} else {
		s += " self"
	}
	if e.Static {
		s += " permanent"
	}
	return s
}

// FDB lists the forwarding entries of VXLAN device vx: its own (which
// remote a MAC address is sent to) and the bridge's for its port (which
// MAC addresses were seen coming from it).
//
// Equivalent to: `bridge fdb show dev VX`.
func FDB(vx string) ([]FDBEntry, error) {
	l, err := netlink.LinkByName(vx)
	if err != nil {
		return nil, err
	}
	ns, err := netlink.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return nil, fmt.Errorf("list fdb of %q: %w", vx, hint(err))
	}
	var out []FDBEntry
	for _, n := range ns {
		// The device's own entries carry NTF_SELF; the bridge's do not
		// (`bridge fdb` prints "master BRIDGE" from their NDA_MASTER).
		e := FDBEntry{MAC: n.HardwareAddr.String(), Master: n.Flags&netlink.NTF_SELF == 0, Static: n.State&netlink.NUD_PERMANENT != 0}
		if n.IP != nil {
			e.Dst = n.IP.String()
		}
		if e.Master && e.Static {
			continue // the bridge's entry for the device's own address
		}
		out = append(out, e)
	}
	return out, nil
}

// LinkStats returns the packets link name sent and received.
//
// Equivalent to: `ip -s link show NAME`.
func LinkStats(name string) (tx, rx uint64, err error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, 0, err
	}
	s := l.Attrs().Statistics
	if s == nil {
		return 0, 0, nil
	}
	return s.TxPackets, s.RxPackets, nil
}
