package network

import (
	"sort"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
)

// Topology is what show draws: each network as the kernel has it, checked
// against the records, and the live rules of table ip ctrkit.
type Topology struct {
	Networks []View
	Rules    map[string][]string // chain → owner of each rule (nat.Rules); nil: no table
}

// View is one network. For a bridge, Members are the links the kernel has
// plugged into it, in its order; for macvlan and none, the recorded
// containers by id.
type View struct {
	*ipam.Network
	State   string           // the bridge: up, down or missing
	Addrs   []string         // the bridge's live addresses
	Missing bool             // the bridge is gone from the kernel
	Members []Member         //
	Lost    []*ipam.Endpoint // recorded on the bridge, not plugged into it

	// An overlay's VXLAN device, live: its state, packets sent and
	// received, its forwarding entries; and the hosts with their ranges.
	VXLANState string
	Tx, Rx     uint64
	FDB        []netcfg.FDBEntry
	Hosts      []Peer
}

// Member is one container's link (or, for none, its namespace).
type Member struct {
	Link     string         // the host end of a veth on the bridge; "" for macvlan and none
	State    string         // its state: up, down or missing
	Endpoint *ipam.Endpoint // the record; nil: not made by ctrkit
	Eth0     []string       // live addresses of eth0 inside the container
	Eth0Err  error          // eth0 could not be read: missing
}

// Show reads the kernel, not only the records: the links plugged into each
// bridge, eth0 inside each container's namespace, and the rules of table
// ip ctrkit.
//
// Equivalent to: `ip -o link show master BRIDGE`, `ip -n ck-ID addr show
// dev eth0` for each container, and `nft list table ip ctrkit`; for an
// overlay also `ip -s link show vx-NET` and `bridge fdb show dev vx-NET`.
func (m *Manager) Show() (*Topology, error) {
	nets, err := m.List()
	if err != nil {
		return nil, err
	}
	t := &Topology{}
	for _, name := range ipam.Names(nets) {
		t.Networks = append(t.Networks, view(nets[name]))
	}
	if len(nets) == 0 {
		return t, nil
	}
	if t.Rules, err = nat.Rules(); err != nil {
		return nil, err
	}
	return t, nil
}

func view(n *ipam.Network) View {
	v := View{Network: n}
	if !n.Bridged() {
		for _, id := range SortedIDs(n) {
			v.Members = append(v.Members, member(n.Endpoints[id], ""))
		}
		return v
	}
	if n.Driver == ipam.Overlay {
		v.VXLANState = netcfg.LinkState(n.VXLAN)
		v.Tx, v.Rx, _ = netcfg.LinkStats(n.VXLAN)
		v.FDB, _ = netcfg.FDB(n.VXLAN)
		v.Hosts = PeersOf(n)
	}
	v.State = netcfg.LinkState(n.Link)
	v.Addrs, _ = netcfg.AddrOf("", n.Link)
	byLink := map[string]*ipam.Endpoint{}
	for _, ep := range n.Endpoints {
		if ep.HostLink != "" {
			byLink[ep.HostLink] = ep
		}
	}
	ports, err := netcfg.Ports(n.Link)
	v.Missing = err != nil
	for _, p := range ports {
		if p == n.VXLAN && n.VXLAN != "" {
			continue // drawn on its own
		}
		ep := byLink[p]
		delete(byLink, p)
		if ep == nil {
			v.Members = append(v.Members, Member{Link: p, State: netcfg.LinkState(p)})
			continue
		}
		v.Members = append(v.Members, member(ep, p))
	}
	for _, ep := range byLink {
		v.Lost = append(v.Lost, ep)
	}
	sort.Slice(v.Lost, func(i, j int) bool { return v.Lost[i].ID < v.Lost[j].ID })
	return v
}

func member(ep *ipam.Endpoint, link string) Member {
	mb := Member{Link: link, Endpoint: ep}
	if link != "" {
		mb.State = netcfg.LinkState(link)
	}
	if ep.IP != "" {
		mb.Eth0, mb.Eth0Err = netcfg.AddrOf(ep.Netns, "eth0")
	}
	return mb
}

// SortedIDs lists the ids of n's containers in order.
func SortedIDs(n *ipam.Network) []string {
	ids := make([]string, 0, len(n.Endpoints))
	for id := range n.Endpoints {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
