// Package ipam hands out container addresses without collisions, and keeps
// what net-bridge made: the networks (bridge or macvlan, subnet, gateway)
// and, per container, its address, links, namespace and published ports.
//
// Everything lives in one JSON file, STATE/net/networks.json (STATE is
// /run/ctrkit by default), read and written under an exclusive flock(2) on
// STATE/net/lock, so two net-bridge processes started at the same moment
// never give out one address twice:
//
//	flock STATE/net/lock -c 'jq . STATE/net/networks.json'
//
// An address is the lowest one free in the subnet, never the network
// address, the broadcast address, the gateway or an address reserved for the
// host (a macvlan parent's own address). Detach releases it. An overlay
// network spans hosts that never ask each other, so each hands out only its
// own Range of the subnet (the rule: net-bridge/network/overlay.go).
package ipam

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"

	"ctrkit/internal/fsutil"
	"ctrkit/internal/spec"
)

// Driver is how a network's containers are connected.
const (
	Bridge  = "bridge"  // a veth pair per container, one end on a Linux bridge
	Macvlan = "macvlan" // a macvlan link of a host interface, moved into the container
	Overlay = "overlay" // a bridge per host, joined to the other hosts' by a VXLAN device
)

// Network is one network net-bridge created.
type Network struct {
	Name      string               `json:"name"`
	Driver    string               `json:"driver"`
	Link      string               `json:"link"` // the bridge, or the macvlan parent
	Subnet    string               `json:"subnet"`
	Gateway   string               `json:"gateway"`
	Reserved  []string             `json:"reserved,omitempty"`
	Endpoints map[string]*Endpoint `json:"endpoints"`

	// An overlay network only (see net-bridge/network/overlay.go).
	Range    string   `json:"range,omitempty"`    // this host's share of Subnet: addresses come from here
	VNI      int      `json:"vni,omitempty"`      // the VXLAN network identifier, 1 to 16777215
	Underlay string   `json:"underlay,omitempty"` // this host's address on the underlay, the VXLAN source
	VXLAN    string   `json:"vxlan,omitempty"`    // the VXLAN device plugged into the bridge, vx-NAME
	MTU      int      `json:"mtu,omitempty"`      // the underlay's MTU less the 50 bytes VXLAN adds
	Peers    []string `json:"peers,omitempty"`    // the other hosts' underlay addresses
}

// Bridged reports whether n's containers hang off a bridge of n's own by
// a veth pair (bridge and overlay networks). Such a network stays when its
// last container leaves; a macvlan or none record goes with it.
func (n *Network) Bridged() bool { return n.Driver == Bridge || n.Driver == Overlay }

// Endpoint is one container attached to a network.
type Endpoint struct {
	ID       string `json:"id"`
	IP       string `json:"ip"`
	HostLink string `json:"hostLink,omitempty"` // the host end of the veth pair
	Netns    string `json:"netns"`              // the namespace file, /run/netns/NAME
	OwnNetns bool   `json:"ownNetns,omitempty"` // net-bridge made the namespace, detach removes it
	Ports    []Port `json:"ports,omitempty"`
}

// Port is one published port: HOSTIP:HOSTPORT on the host is forwarded to
// CTRPORT in the container.
type Port struct {
	HostIP   string `json:"hostIP,omitempty"` // empty: every address of the host
	HostPort uint16 `json:"hostPort"`
	CtrPort  uint16 `json:"containerPort"`
	Proto    string `json:"proto"` // tcp or udp
}

func (p Port) String() string {
	s := fmt.Sprintf("%d:%d/%s", p.HostPort, p.CtrPort, p.Proto)
	if p.HostIP != "" {
		s = p.HostIP + ":" + s
	}
	return s
}

// Conflicts reports whether p and q claim the same host port.
func (p Port) Conflicts(q Port) bool {
	return p.Proto == q.Proto && p.HostPort == q.HostPort &&
		(p.HostIP == "" || q.HostIP == "" || p.HostIP == q.HostIP)
}

// Store is the state file of all networks, under dir.
type Store struct{ dir string }

// Open returns the store kept in dir (STATE/net); nothing is created yet.
func Open(dir string) *Store { return &Store{dir: dir} }

// Dir is where the store keeps its files.
func (s *Store) Dir() string { return s.dir }

func (s *Store) file() string { return filepath.Join(s.dir, "networks.json") }

// lock takes the exclusive flock on dir/lock. A process that removed the
// store (the last network gone) may have unlinked the file we opened while
// we waited for it; fsutil.Lock then locks the new one instead.
func (s *Store) lock() (*os.File, error) {
	if err := spec.EnsureState(filepath.Dir(s.dir)); err != nil {
		return nil, err
	}
	return fsutil.Lock(s.dir, "lock")
}

// load reads the networks; a missing file is no networks.
func (s *Store) load() (map[string]*Network, error) {
	nets := map[string]*Network{}
	data, err := os.ReadFile(s.file())
	if errors.Is(err, os.ErrNotExist) {
		return nets, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &nets); err != nil {
		return nil, fmt.Errorf("parse %s: %w", s.file(), err)
	}
	for _, n := range nets {
		if n.Endpoints == nil {
			n.Endpoints = map[string]*Endpoint{}
		}
	}
	return nets, nil
}

// Update runs fn on the networks under the lock and saves what fn left, by
// writing a new file and renaming it over the old one (fsutil.WriteFile),
// so a reader never sees half a file. When fn fails nothing is saved. When no network is left,
// the store's files and directory are removed.
func (s *Store) Update(fn func(nets map[string]*Network) error) error {
	lock, err := s.lock()
	if err != nil {
		return err
	}
	defer lock.Close()
	nets, err := s.load()
	if err != nil {
		return err
	}
	empty := len(nets) == 0
	if err := fn(nets); err != nil {
		if empty { // e.g. rm of a network that never was: leave no lock behind
			s.tidy()
		}
		return err
	}
	if len(nets) == 0 {
		s.tidy()
		return nil
	}
	data, err := json.MarshalIndent(nets, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFile(s.file(), append(data, '\n'), 0o600)
}

// tidy removes the store's files and directory; it runs under the lock,
// and others re-check the lock file's inode (fsutil.Lock).
func (s *Store) tidy() {
	os.Remove(s.file())
	os.Remove(filepath.Join(s.dir, "lock"))
	os.Remove(s.dir) // only when empty
}

// Load returns a snapshot of the networks.
func (s *Store) Load() (map[string]*Network, error) {
	if _, err := os.Stat(s.dir); errors.Is(err, os.ErrNotExist) {
		return map[string]*Network{}, nil
	}
	var out map[string]*Network
	err := s.Update(func(nets map[string]*Network) error {
		out = nets
		return nil
	})
	return out, err
}

// Find returns the network and endpoint of container id, or nils.
func Find(nets map[string]*Network, id string) (*Network, *Endpoint) {
	for _, name := range Names(nets) {
		if ep, ok := nets[name].Endpoints[id]; ok {
			return nets[name], ep
		}
	}
	return nil, nil
}

// Names lists the networks' names in order.
func Names(nets map[string]*Network) []string {
	names := make([]string, 0, len(nets))
	for n := range nets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Allocate gives container id the lowest free address of n and records an
// endpoint for it. An id that already has one keeps its address.
func (n *Network) Allocate(id string) (net.IP, error) {
	if ep, ok := n.Endpoints[id]; ok {
		return net.ParseIP(ep.IP), nil
	}
	_, subnet, err := net.ParseCIDR(n.Subnet)
	if err != nil {
		return nil, fmt.Errorf("network %q: subnet %q: %w", n.Name, n.Subnet, err)
	}
	used := map[string]bool{n.Gateway: true}
	for _, r := range n.Reserved {
		used[r] = true
	}
	for _, ep := range n.Endpoints {
		used[ep.IP] = true
	}
	pool := subnet
	if n.Range != "" {
		if _, pool, err = net.ParseCIDR(n.Range); err != nil {
			return nil, fmt.Errorf("network %q: range %q: %w", n.Name, n.Range, err)
		}
	}
	ip, err := NextFree(pool, used)
	if err != nil {
		return nil, fmt.Errorf("network %q: %w (detach a container, or create a network with a larger --subnet)", n.Name, err)
	}
	if n.Endpoints == nil {
		n.Endpoints = map[string]*Endpoint{}
	}
	n.Endpoints[id] = &Endpoint{ID: id, IP: ip.String()}
	return ip, nil
}

// Release forgets container id's endpoint, freeing its address.
func (n *Network) Release(id string) { delete(n.Endpoints, id) }

// ErrExhausted is returned when a subnet has no address left.
var ErrExhausted = errors.New("no free address")

// NextFree returns the lowest address of subnet (IPv4) that is neither the
// network nor the broadcast address and not in used (keys are
// net.IP.String()).
func NextFree(subnet *net.IPNet, used map[string]bool) (net.IP, error) {
	base := subnet.IP.To4()
	if base == nil {
		return nil, fmt.Errorf("subnet %s: only IPv4 is supported", subnet)
	}
	ones, bits := subnet.Mask.Size()
	size := uint64(1) << uint(bits-ones)
	if size < 4 {
		return nil, fmt.Errorf("subnet %s: %w (a /%d has no room for a gateway and a container)", subnet, ErrExhausted, ones)
	}
	start := binary.BigEndian.Uint32(base)
	for i := uint64(1); i < size-1; i++ {
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, start+uint32(i))
		if !used[ip.String()] {
			return ip, nil
		}
	}
	return nil, fmt.Errorf("subnet %s: %w", subnet, ErrExhausted)
}

// FirstHost is the first usable address of subnet, the gateway by custom.
func FirstHost(subnet *net.IPNet) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, binary.BigEndian.Uint32(subnet.IP.To4())+1)
	return ip
}
