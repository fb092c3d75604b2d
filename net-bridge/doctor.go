package main

import (
	"fmt"

	"ctrkit/internal/cli"
)

type DoctorCmd struct{}

func (c *DoctorCmd) Help() string {
	return `Checks what usually breaks container networking, in the current network namespace:
IPv4 forwarding (net.ipv4.ip_forward), a forward-hook chain with policy drop in another table
(iptables' FORWARD DROP, which an accept in table ip ctrkit cannot override), br_netfilter
(bridge-nf-call-iptables: bridged traffic then passes the forward hook too), which iptables
backend is installed (nf_tables or legacy), and routes that overlap a ctrkit subnet.
Exits 1 when a check fails.`
}

func (c *DoctorCmd) Run(g *cli.Globals, s *Stdio) error {
	checks, err := manager(g, s).Doctor()
	fails := 0
	for _, ch := range checks {
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
