package main

import (
	"fmt"

	"ctrkit/internal/cli"
	"ctrkit/net-bridge/network"
)

type CreateCmd struct {
	Name     string   `help:"Bridge (and network) name, at most 15 bytes (12 for an overlay: its VXLAN device is vx-NAME)." default:"ctrkit0"`
	Driver   string   `help:"bridge (one host, NAT out) or overlay (one segment across hosts, VXLAN)." default:"bridge" enum:"bridge,overlay"`
	Subnet   string   `help:"Subnet of the network, e.g. 10.213.0.0/24 (default: the first free 10.213.X.0/24; an overlay needs one, /22 or larger, the same on every host)." placeholder:"CIDR"`
	VNI      int      `name:"vni" help:"overlay: the VXLAN network identifier, 1 to 16777215, the same on every host." placeholder:"N"`
	Underlay string   `help:"overlay: this host's own address on the network the hosts share; VXLAN datagrams leave from it." placeholder:"IP"`
	Peer     []string `help:"overlay: another host's underlay address; repeatable (net-bridge overlay peer add adds more later)." placeholder:"IP"`
}

func (c *CreateCmd) Help() string {
	return `Creates the Linux bridge NAME (a virtual switch: ip link add NAME type bridge), gives it the
subnet's first address as the containers' gateway, turns on IPv4 forwarding in the current
network namespace if it is off, and writes nftables rules in table ip ctrkit: masquerade for
traffic leaving the subnet, and accept for forwarded bridge traffic.

The subnet is checked against every route of the host, so a container address never
shadows a network the host already reaches. Running create again changes nothing.

With --driver overlay, run on every host with the same --name, --subnet and --vni and the
host's own --underlay: the bridge gets no address and no NAT, and one more port, a VXLAN
device vx-NAME (ip link add vx-NAME master NAME type vxlan id VNI local UNDERLAY dstport 4789
nolearning) that wraps each frame for another host into a UDP datagram to that host. Each
--peer gets a flood entry (bridge fdb append 00:00:00:00:00:00 dev vx-NAME dst PEER); ARP
finds the containers behind them. The MTU of the bridge, the device and every container is
the underlay's less 50 bytes. The host hands out addresses only from its own range: the
subnet cut into 256, the range numbered by the underlay address's last byte.

Example:
  net-bridge create --driver overlay --name ov --subnet 10.220.0.0/16 --vni 42 \
      --underlay 198.51.100.1 --peer 198.51.100.2`
}

func (c *CreateCmd) Run(g *cli.Globals, s *Stdio) error {
	if c.Driver == "overlay" {
		n, err := manager(g, s).CreateOverlay(c.Name, network.OverlayOptions{Subnet: c.Subnet, VNI: c.VNI, Underlay: c.Underlay, Peers: c.Peer})
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Stdout, "%s %s %s\n", n.Name, n.Subnet, n.Range)
		return nil
	}
	if c.VNI != 0 || c.Underlay != "" || len(c.Peer) > 0 {
		return fmt.Errorf("--vni, --underlay and --peer are for --driver overlay")
	}
	n, err := manager(g, s).Create(c.Name, c.Subnet)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stdout, "%s %s\n", n.Name, n.Subnet)
	return nil
}
