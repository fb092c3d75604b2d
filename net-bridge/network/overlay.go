package network

// An overlay network is one Ethernet segment spread over several hosts.
// Each host has a bridge of the network's name, its containers' veths
// plugged in as on a bridge network, and one more port: a VXLAN device
// (RFC 7348). A frame the bridge sends out of that port is wrapped whole
// into a UDP datagram (outer IPv4, UDP to port 4789, an 8-byte VXLAN header
// carrying the 24-bit network identifier, the VNI) and sent over the
// hosts' own network, the underlay, to the host the destination is behind;
// that host's VXLAN device unwraps it and hands the frame to its bridge:
//
//	container A ── bridge ── vx-NET ══ UDP 4789 over the underlay ══ vx-NET ── bridge ── container B
//
// Three questions make the design.
//
// Which host is a MAC address behind? The VXLAN device asks its forwarding
// database (FDB). It is made with nolearning, so it never fills the FDB
// from what it receives, and ctrkit puts one entry there per peer: the
// all-zero MAC address with the peer's underlay address as destination
// (`bridge fdb append 00:00:00:00:00:00 dev vx-NET dst PEER`). A frame
// whose MAC has no entry goes to every remote of that entry, one datagram
// each. ARP requests are broadcasts, so they reach every host; the owner
// answers, and each bridge learns on which port (its VXLAN device) the
// remote MAC is. Unicast to a remote container then goes out the VXLAN
// port and, with no entry of its own on the device, again to every peer;
// the hosts that do not have that MAC drop it at their bridge. That costs
// a copy per peer: fine for a few hosts, a waste for fifty.
//
// Docker does better with more machinery: every host runs serf (gossip,
// the SWIM protocol) and, in classic Swarm, a key-value store (Consul, etcd
// or ZooKeeper; swarm mode keeps it in its Raft store). When a container
// starts, its host announces (IP, MAC, host) to the others, and each host
// programs a static FDB entry (MAC → host) and a static neighbour entry
// (IP → MAC, so no ARP crosses the wire at all) in a namespace of its own;
// learning is off there too. flannel's vxlan backend does the same with
// etcd or the Kubernetes API as its store. ctrkit keeps no daemon and no
// store: the peers are given by hand (`net-bridge overlay peer add`), and
// the kernel learns the rest by ARP. What is lost: a host joining needs
// `peer add` on each of the others, and unicast is flooded to all peers.
//
// Who hands out addresses? No host asks another. The subnet is cut into
// 256 equal ranges and each host takes the range numbered by the last byte
// of its underlay address: with --subnet 10.220.0.0/16, the host
// 198.51.100.1 gives out 10.220.1.1 to 10.220.1.254, the host 198.51.100.2
// 10.220.2.1 to 10.220.2.254. Two hosts whose underlay addresses end in the
// same byte would collide: create and peer add refuse that. The subnet must
// be a /22 or larger (ranges of at least 4 addresses).
//
// How big is a frame? VXLAN adds 50 bytes (outer IPv4 20, UDP 8, VXLAN 8,
// inner Ethernet 14), so a 1500-byte container packet would make a
// 1550-byte datagram that a 1500-byte underlay drops or fragments. The
// bridge, the VXLAN device and every container's veth get the underlay
// link's MTU less 50; below 576 (what every IPv4 host must accept) create
// refuses.

import (
	"encoding/binary"
	"fmt"
	"net"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/netcfg"
)

// OverlayOptions are net-bridge create --driver overlay's flags.
type OverlayOptions struct {
	Subnet   string   // the whole network's subnet, the same on every host
	VNI      int      // VXLAN network identifier, the same on every host
	Underlay string   // this host's address on the underlay
	Peers    []string // the other hosts' underlay addresses
}

// maxVNI is the largest 24-bit VXLAN network identifier.
const maxVNI = 1<<24 - 1

// CreateOverlay makes the overlay network name on this host: its bridge,
// its VXLAN device and a flood entry per peer (see the essay above). Run
// again with the same subnet, VNI and underlay, it only adds new peers.
//
// Equivalent to: `ip link add NAME mtu MTU type bridge; ip link set NAME up;
// ip link add vx-NAME mtu MTU master NAME type vxlan id VNI local UNDERLAY
// dev DEV dstport 4789 nolearning; ip link set vx-NAME up; bridge fdb append
// 00:00:00:00:00:00 dev vx-NAME dst PEER` for each peer.
func (m *Manager) CreateOverlay(name string, o OverlayOptions) (*ipam.Network, error) {
	var n *ipam.Network
	err := m.Store().Update(func(nets map[string]*ipam.Network) error {
		var err error
		n, err = m.createOverlay(nets, name, o)
		return err
	})
	return n, err
}

func (m *Manager) createOverlay(nets map[string]*ipam.Network, name string, o OverlayOptions) (*ipam.Network, error) {
	if err := netcfg.CheckName("vx-" + name); err != nil {
		return nil, fmt.Errorf("overlay name %q: at most 12 bytes, its VXLAN device is vx-NAME: %w", name, err)
	}
	if o.Subnet == "" {
		return nil, fmt.Errorf("--driver overlay needs --subnet, the same on every host (e.g. 10.220.0.0/16)")
	}
	subnet, err := parseSubnet(o.Subnet)
	if err != nil {
		return nil, err
	}
	if ones, _ := subnet.Mask.Size(); ones > 22 {
		return nil, fmt.Errorf("subnet %s is too small for an overlay: it is cut into 256 per-host ranges, so it needs a /22 or larger (e.g. 10.220.0.0/16)", subnet)
	}
	if o.VNI < 1 || o.VNI > maxVNI {
		return nil, fmt.Errorf("--vni %d: a VXLAN network identifier is 1 to %d, the same on every host", o.VNI, maxVNI)
	}
	local := net.ParseIP(o.Underlay).To4()
	if local == nil {
		return nil, fmt.Errorf("--underlay %q: give this host's IPv4 address on the network the hosts share", o.Underlay)
	}
	peers, err := parsePeers(o.Peers)
	if err != nil {
		return nil, err
	}
	if n, ok := nets[name]; ok {
		if n.Driver != ipam.Overlay || n.Subnet != subnet.String() || n.VNI != o.VNI || n.Underlay != local.String() {
			return nil, fmt.Errorf("network %q exists (%s, subnet %s, vni %d, underlay %s): remove it first (net-bridge rm --name %s)", name, n.Driver, n.Subnet, n.VNI, n.Underlay, name)
		}
		if !netcfg.LinkExists(n.Link) || !netcfg.LinkExists(n.VXLAN) {
			if err := m.rewireOverlay(n); err != nil {
				return nil, err
			}
		}
		for _, p := range peers {
			if err := m.addPeer(n, p); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	for _, other := range ipam.Names(nets) {
		if nets[other].Driver == ipam.Overlay && nets[other].VNI == o.VNI {
			return nil, fmt.Errorf("vni %d is in use by ctrkit network %q: choose another --vni", o.VNI, other)
		}
	}
	if dev, err := netcfg.VXLANWithID(o.VNI); err != nil {
		return nil, err
	} else if dev != "" {
		return nil, fmt.Errorf("vni %d is in use by the VXLAN device %q (ip -d link show %s): choose another --vni", o.VNI, dev, dev)
	}
	dev, mtu, err := netcfg.Underlay(local)
	if err != nil {
		return nil, err
	}
	if mtu-netcfg.VXLANOverhead < netcfg.MinMTU {
		return nil, fmt.Errorf("the underlay %s has MTU %d, which leaves %d for containers after VXLAN's %d bytes; IPv4 needs %d: raise it (ip link set %s mtu %d)",
			dev, mtu, mtu-netcfg.VXLANOverhead, netcfg.VXLANOverhead, netcfg.MinMTU, dev, netcfg.MinMTU+netcfg.VXLANOverhead)
	}
	if subnet, err = m.chooseSubnet(nets, name, subnet); err != nil {
		return nil, err
	}
	n := &ipam.Network{Name: name, Driver: ipam.Overlay, Link: name, Subnet: subnet.String(), VNI: o.VNI,
		Underlay: local.String(), VXLAN: "vx-" + name, MTU: mtu - netcfg.VXLANOverhead, Endpoints: map[string]*ipam.Endpoint{}}
	r, err := hostRange(subnet, local)
	if err != nil {
		return nil, err
	}
	n.Range = r.String()
	for _, p := range peers {
		if err := checkPeer(n, p); err != nil {
			return nil, err
		}
		n.Peers = append(n.Peers, p.String())
	}
	for _, l := range []string{n.Link, n.VXLAN} {
		if netcfg.LinkExists(l) {
			return nil, fmt.Errorf("a link named %q exists and ctrkit did not make it: choose another --name", l)
		}
	}
	if err := m.wireOverlay(n, dev); err != nil {
		// Nothing half-made: the flood entries go with the device.
		netcfg.DeleteLink(nil, n.VXLAN)
		netcfg.DeleteLink(nil, n.Link)
		return nil, err
	}
	nets[name] = n
	return n, nil
}

// wireOverlay makes n's bridge (unless it is there: containers may hang
// off it), VXLAN device and flood entries.
func (m *Manager) wireOverlay(n *ipam.Network, dev string) error {
	if !netcfg.LinkExists(n.Link) {
		if err := netcfg.OverlayBridge(m.Log, n.Link, n.MTU); err != nil {
			return err
		}
	}
	if err := netcfg.VXLAN(m.Log, n.VXLAN, n.Link, n.VNI, net.ParseIP(n.Underlay), dev, n.MTU); err != nil {
		return err
	}
	for _, p := range n.Peers {
		if err := netcfg.FloodAdd(m.Log, n.VXLAN, net.ParseIP(p)); err != nil {
			return err
		}
	}
	return nil
}

// rewireOverlay makes what is lost of an overlay network again (its state
// outlived its links: a reboot, or the namespace that held them went).
func (m *Manager) rewireOverlay(n *ipam.Network) error {
	m.Log.Note("network %q is recorded but its bridge %s or VXLAN device %s is gone: making them again", n.Name, n.Link, n.VXLAN)
	dev, _, err := netcfg.Underlay(net.ParseIP(n.Underlay))
	if err != nil {
		return err
	}
	if err := netcfg.DeleteLink(m.Log, n.VXLAN); err != nil {
		return err
	}
	if err := m.wireOverlay(n, dev); err != nil {
		netcfg.DeleteLink(nil, n.VXLAN)
		return err
	}
	return nil
}

// parsePeers parses --peer addresses (IPv4).
func parsePeers(ss []string) ([]net.IP, error) {
	var out []net.IP
	for _, s := range ss {
		ip := net.ParseIP(s).To4()
		if ip == nil {
			return nil, fmt.Errorf("peer %q is not an IPv4 address: give another host's --underlay address", s)
		}
		out = append(out, ip)
	}
	return out, nil
}

// hostRange is the share of subnet that the host at underlay address
// local hands out: the subnet cut into 256 ranges, the one numbered by
// local's last byte.
func hostRange(subnet *net.IPNet, local net.IP) (*net.IPNet, error) {
	ones, bits := subnet.Mask.Size()
	if ones+8 > bits-2 {
		return nil, fmt.Errorf("subnet %s is too small for 256 per-host ranges: use a /22 or larger", subnet)
	}
	shift := uint(bits - ones - 8)
	base := binary.BigEndian.Uint32(subnet.IP.To4()) + uint32(local.To4()[3])<<shift
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, base)
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(ones+8, bits)}, nil
}

// checkPeer refuses a peer that is this host, that this host cannot reach,
// or whose range would be this host's or another peer's.
func checkPeer(n *ipam.Network, peer net.IP) error {
	if err := netcfg.CheckPeer(peer); err != nil {
		return err
	}
	_, subnet, _ := net.ParseCIDR(n.Subnet)
	for _, other := range append([]string{n.Underlay}, n.Peers...) {
		o := net.ParseIP(other).To4()
		if o[3] == peer[3] && !o.Equal(peer) {
			r, _ := hostRange(subnet, peer)
			return fmt.Errorf("peer %s and %s both end in .%d, so both would hand out addresses from %s: each host's range is numbered by the last byte of its underlay address; renumber one of them", peer, o, peer[3], r)
		}
	}
	return nil
}

// addPeer adds peer to overlay n: its flood entry, and the record.
func (m *Manager) addPeer(n *ipam.Network, peer net.IP) error {
	for _, p := range n.Peers {
		if p == peer.String() {
			m.Log.Note("peer %s is in network %q already", peer, n.Name)
			return nil
		}
	}
	if err := checkPeer(n, peer); err != nil {
		return err
	}
	if err := netcfg.FloodAdd(m.Log, n.VXLAN, peer); err != nil {
		return err
	}
	n.Peers = append(n.Peers, peer.String())
	return nil
}

// overlay finds the overlay network name under the lock.
func overlay(nets map[string]*ipam.Network, name string) (*ipam.Network, error) {
	n, ok := nets[name]
	if !ok {
		return nil, fmt.Errorf("no network %q (net-bridge ls lists them; net-bridge create --driver overlay makes one)", name)
	}
	if n.Driver != ipam.Overlay {
		return nil, fmt.Errorf("network %q is a %s network, not an overlay", name, n.Driver)
	}
	return n, nil
}

// PeerAdd adds the host at underlay address ip to overlay network name.
//
// Equivalent to: `bridge fdb append 00:00:00:00:00:00 dev vx-NAME dst IP`.
func (m *Manager) PeerAdd(name, ip string) error {
	peers, err := parsePeers([]string{ip})
	if err != nil {
		return err
	}
	return m.Store().Update(func(nets map[string]*ipam.Network) error {
		n, err := overlay(nets, name)
		if err != nil {
			return err
		}
		return m.addPeer(n, peers[0])
	})
}

// PeerRm removes the host at underlay address ip from overlay network
// name: this host sends it nothing more.
//
// Equivalent to: `bridge fdb del 00:00:00:00:00:00 dev vx-NAME dst IP`.
func (m *Manager) PeerRm(name, ip string) error {
	peers, err := parsePeers([]string{ip})
	if err != nil {
		return err
	}
	return m.Store().Update(func(nets map[string]*ipam.Network) error {
		n, err := overlay(nets, name)
		if err != nil {
			return err
		}
		for i, p := range n.Peers {
			if p == peers[0].String() {
				if err := netcfg.FloodDel(m.Log, n.VXLAN, peers[0]); err != nil {
					return err
				}
				n.Peers = append(n.Peers[:i:i], n.Peers[i+1:]...)
				return nil
			}
		}
		return fmt.Errorf("%s is not a peer of network %q (net-bridge overlay peer ls %s)", ip, name, name)
	})
}

// Peer is one host of an overlay network and the range it hands out.
type Peer struct {
	Underlay string
	Range    string
	Self     bool // this host
}

// Peers lists the hosts of overlay network name, this one first.
func (m *Manager) Peers(name string) ([]Peer, error) {
	nets, err := m.List()
	if err != nil {
		return nil, err
	}
	n, err := overlay(nets, name)
	if err != nil {
		return nil, err
	}
	return PeersOf(n), nil
}

// PeersOf lists n's hosts with their ranges, this one first.
func PeersOf(n *ipam.Network) []Peer {
	_, subnet, _ := net.ParseCIDR(n.Subnet)
	out := []Peer{{Underlay: n.Underlay, Range: n.Range, Self: true}}
	for _, p := range n.Peers {
		r, err := hostRange(subnet, net.ParseIP(p))
		rs := "?"
		if err == nil {
			rs = r.String()
		}
		out = append(out, Peer{Underlay: p, Range: rs})
	}
	return out
}
