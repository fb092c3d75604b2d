package main

import (
	"fmt"

	"ctrkit/internal/cli"
)

type DoctorCmd struct {
	Fix bool `help:"Remove the orphans found: a bridge ctrkit made (its alias says so) and rules in table ip ctrkit that no state dir records. Nothing ctrkit did not make is touched."`
}

func (c *DoctorCmd) Help() string {
	return `Checks what usually breaks container networking, in the current network namespace:
IPv4 forwarding (net.ipv4.ip_forward), a forward-hook chain with policy drop in another table
(iptables' FORWARD DROP, which an accept in table ip ctrkit cannot override), br_netfilter
(bridge-nf-call-iptables: bridged traffic then passes the forward hook too), which iptables
backend is installed (nf_tables or legacy), routes that overlap a ctrkit subnet, and orphans:
a bridge net-bridge made (marked by its alias, "ctrkit network NAME state DIR") or rules in
table ip ctrkit that no state dir records any more, left when a state dir (CTRKIT_STATE) was
removed; an orphan ctrkit0 makes every run with a fresh state dir fail. --fix removes the
orphans (ip link del NAME; nft delete rule … for their rules). Exits 1 when a check fails.`
}

func (c *DoctorCmd) Run(g *cli.Globals, s *Stdio) error {
	checks, err := manager(g, s).Doctor()
	fails := 0
	for _, ch := range checks {
		if c.Fix && ch.Fix != nil {
			if ferr := ch.Fix(); ferr != nil {
				fmt.Fprintf(s.Stdout, "FAIL %s\n     --fix failed: %v\n", ch.What, ferr)
				fails++
			} else {
				fmt.Fprintf(s.Stdout, "%-4s %s\n     removed\n", "fix", ch.What)
			}
			continue
		}
		if ch.Level == "FAIL" {
			fails++
		}
		fmt.Fprintf(s.Stdout, "%-4s %s\n", ch.Level, ch.What)
		if ch.Advice != "" {
			fmt.Fprintf(s.Stdout, "     %s\n", ch.Advice)
		}
	}
	if err != nil {
		return err
	}
	if fails > 0 {
		return &cli.ExitError{Code: 1}
	}
	return nil
}
