package main

import "ctrkit/internal/cli"

type RmCmd struct {
	Name string `help:"Bridge (and network) name." default:"ctrkit0"`
}

func (c *RmCmd) Help() string {
	return `Deletes the network's nftables rules (and table ip ctrkit when it is left empty) and the
bridge (ip link del NAME). Refuses while containers are attached: detach them first.
IPv4 forwarding is left on.`
}

func (c *RmCmd) Run(g *cli.Globals, s *Stdio) error {
	return manager(g, s).Remove(c.Name)
}
