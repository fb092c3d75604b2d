package main

import (
	"fmt"
	"text/tabwriter"

	"ctrkit/internal/cli"
)

type OverlayCmd struct {
	Peer PeerCmd `cmd:"" help:"The other hosts of an overlay network: add, rm, ls."`
}

type PeerCmd struct {
	Add PeerAddCmd `cmd:"" help:"Send this host's broadcasts (and unknown unicast) for NET to the host at IP too."`
	Rm  PeerRmCmd  `cmd:"" help:"Stop sending to the host at IP."`
	Ls  PeerLsCmd  `cmd:"" help:"List the hosts of NET and the address range each hands out."`
}

type peerArgs struct {
	Network string `arg:"" name:"NET" help:"The overlay network."`
	IP      string `arg:"" name:"IP" help:"The other host's underlay address."`
}

type PeerAddCmd struct{ peerArgs }

func (c *PeerAddCmd) Help() string {
	return `Adds IP to the remotes of the VXLAN device's all-zero FDB entry (bridge fdb append
00:00:00:00:00:00 dev vx-NET dst IP): ARP requests and other broadcasts now reach the
containers behind that host too. Run it on every host already in the network when one
joins: there is no gossip between hosts (see docs/11-overlay.md).`
}

func (c *PeerAddCmd) Run(g *cli.Globals, s *Stdio) error {
	return manager(g, s).PeerAdd(c.Network, c.IP)
}

type PeerRmCmd struct{ peerArgs }

func (c *PeerRmCmd) Help() string {
	return `Removes IP from the remotes of the all-zero FDB entry (bridge fdb del
00:00:00:00:00:00 dev vx-NET dst IP).`
}

func (c *PeerRmCmd) Run(g *cli.Globals, s *Stdio) error { return manager(g, s).PeerRm(c.Network, c.IP) }

type PeerLsCmd struct {
	Network string `arg:"" name:"NET" help:"The overlay network."`
}

func (c *PeerLsCmd) Run(g *cli.Globals, s *Stdio) error {
	peers, err := manager(g, s).Peers(c.Network)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(s.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "HOST\tRANGE\t")
	for _, p := range peers {
		self := ""
		if p.Self {
			self = "(this host)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", p.Underlay, p.Range, self)
	}
	return w.Flush()
}
