package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"ctrkit/internal/cli"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/network"
)

type LsCmd struct{}

func (c *LsCmd) Run(g *cli.Globals, s *Stdio) error {
	nets, err := manager(g, s).List()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(s.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNETWORK\tADDRESS\tPORTS\tNETNS")
	for _, name := range ipam.Names(nets) {
		n := nets[name]
		for _, id := range network.SortedIDs(n) {
			ep := n.Endpoints[id]
			var ps []string
			for _, p := range ep.Ports {
				ps = append(ps, p.String())
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", id, name, dash(ep.IP), dash(strings.Join(ps, ",")), ep.Netns)
		}
	}
	return w.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
