package main

import (
	"fmt"

	"ctrkit/internal/cli"
)

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

func (c *CreateCmd) Run(g *cli.Globals, s *Stdio) error {
	n, err := manager(g, s).Create(c.Name, c.Subnet)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stdout, "%s %s\n", n.Name, n.Subnet)
	return nil
}
