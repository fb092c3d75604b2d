package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
)

// DefaultBridge is the bridge of the default network.
const DefaultBridge = "ctrkit0"

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

func store(g *cli.Globals) *ipam.Store { return ipam.Open(filepath.Join(g.State, "net")) }

type CreateCmd struct {
	Name   string `help:"Bridge (and network) name, at most 15 bytes." default:"ctrkit0"`
	Subnet string `help:"Subnet of the network, e.g. 10.213.0.0/24 (default: the first free 10.213.X.0/24)." placeholder:"CIDR"`
}

func (c *CreateCmd) Help() string {
	return `Creates the Linux bridge NAME (a virtual switch: ip link add NAME type bridge), gives it the
subnet's first address as the containers' gateway, turns on IPv4 forwarding in the current
network namespace if it is off, and writes nftables rules in table ip ctrkit: masquerade for
traffic leaving the subnet, and accept for forwarded bridge traffic.

The subnet is checked against every route of the host, so a container address never
shadows a network the host already reaches. Running create again changes nothing.`
}

func (c *CreateCmd) Run(g *cli.Globals) error {
	log := g.Log("net-bridge", os.Stderr)
	var n *ipam.Network
	err := store(g).Update(func(nets map[string]*ipam.Network) error {
		var err error
		n, err = createNetwork(log, nets, c.Name, c.Subnet)
		return err
	})
	if err != nil {
		return err
	}
	fmt.Printf("%s %s\n", n.Name, n.Subnet)
	return nil
}

// createNetwork makes the bridge network name, or checks that the one that
// exists matches; it runs under the store's lock.
func createNetwork(log *explain.Log, nets map[string]*ipam.Network, name, cidr string) (*ipam.Network, error) {
	if err := netcfg.CheckName(name); err != nil {
		return nil, fmt.Errorf("bridge name: %w", err)
	}
	var subnet *net.IPNet
	if cidr != "" {
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
		subnet = sn
	}
	if n, ok := nets[name]; ok {
		if subnet != nil && n.Subnet != subnet.String() {
			return nil, fmt.Errorf("network %q exists with subnet %s, not %s: remove it first (net-bridge rm --name %s)", name, n.Subnet, subnet, name)
		}
		// Idempotent: make sure the kernel still has it all.
		_, sn, _ := net.ParseCIDR(n.Subnet)
		return n, wireNetwork(log, n, sn)
	}
	overlapsNet := func(sn *net.IPNet) string {
		for _, other := range ipam.Names(nets) {
			_, o, err := net.ParseCIDR(nets[other].Subnet)
			if err == nil && (o.Contains(sn.IP) || sn.Contains(o.IP)) {
				return fmt.Sprintf("%s of ctrkit network %q", o, other)
			}
		}
		return ""
	}
	if subnet != nil {
		if what := overlapsNet(subnet); what != "" {
			return nil, fmt.Errorf("subnet %s overlaps %s: choose another --subnet", subnet, what)
		}
		route, err := netcfg.Overlap(subnet, name)
		if err != nil {
			return nil, err
		}
		if route != "" {
			return nil, fmt.Errorf("subnet %s overlaps the host's route %q: containers would shadow that network; choose another --subnet", subnet, route)
		}
	} else {
		for _, sn := range defaultSubnets() {
			if overlapsNet(sn) != "" {
				continue
			}
			route, err := netcfg.Overlap(sn, name)
			if err != nil {
				return nil, err
			}
			if route == "" {
				subnet = sn
				break
			}
			log.Note("subnet %s overlaps the route %s: trying the next one", sn, route)
		}
		if subnet == nil {
			return nil, fmt.Errorf("every subnet 10.213.0.0/24 to 10.213.255.0/24 overlaps a route: give one with --subnet")
		}
	}
	if netcfg.LinkExists(name) {
		return nil, fmt.Errorf("a link named %q exists and ctrkit did not make it: choose another --name", name)
	}
	n := &ipam.Network{Name: name, Driver: ipam.Bridge, Link: name, Subnet: subnet.String(),
		Gateway: ipam.FirstHost(subnet).String(), Endpoints: map[string]*ipam.Endpoint{}}
	if err := wireNetwork(log, n, subnet); err != nil {
		// Nothing half-made: what wireNetwork made goes again.
		nat.RemoveNetwork(nil, name)
		netcfg.DeleteLink(nil, name)
		return nil, err
	}
	nets[name] = n
	return n, nil
}

// wireNetwork makes (or confirms) the bridge, its address, the sysctls and
// the nftables rules of n.
func wireNetwork(log *explain.Log, n *ipam.Network, subnet *net.IPNet) error {
	gw := &net.IPNet{IP: net.ParseIP(n.Gateway).To4(), Mask: subnet.Mask}
	fresh := !netcfg.LinkExists(n.Link)
	if err := netcfg.EnsureBridge(log, n.Link, gw); err != nil {
		return err
	}
	changed, err := netcfg.SetSysctl(log, "net/ipv4/ip_forward", "1")
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintln(os.Stderr, "net-bridge: IPv4 forwarding was off in this network namespace: turned it on (sysctl net.ipv4.ip_forward=1), or containers could not reach beyond the host")
	}
	// Published ports reached from the host as 127.0.0.1 (see package nat).
	if _, err := netcfg.SetSysctl(log, "net/ipv4/conf/"+n.Link+"/route_localnet", "1"); err != nil {
		return err
	}
	if fresh {
		return nat.AddNetwork(log, n.Name, n.Link, subnet)
	}
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
	return nat.AddNetwork(log, n.Name, n.Link, subnet)
}

type RmCmd struct {
	Name string `help:"Bridge (and network) name." default:"ctrkit0"`
}

func (c *RmCmd) Help() string {
	return `Deletes the network's nftables rules (and table ip ctrkit when it is left empty) and the
bridge (ip link del NAME). Refuses while containers are attached: detach them first.
IPv4 forwarding is left on.`
}

func (c *RmCmd) Run(g *cli.Globals) error {
	log := g.Log("net-bridge", os.Stderr)
	return store(g).Update(func(nets map[string]*ipam.Network) error {
		n, ok := nets[c.Name]
		if !ok {
			return fmt.Errorf("no network %q (net-bridge ls lists them)", c.Name)
		}
		if len(n.Endpoints) > 0 {
			return fmt.Errorf("network %q has %d container(s) attached: detach them first (net-bridge ls)", c.Name, len(n.Endpoints))
		}
		if err := nat.RemoveNetwork(log, n.Name); err != nil {
			return err
		}
		if n.Driver == ipam.Bridge {
			if err := netcfg.DeleteLink(log, n.Link); err != nil {
				return err
			}
		}
		delete(nets, c.Name)
		return nil
	})
}
