// Command net-bridge connects containers to a network: a Linux bridge with a
// veth pair per container, addresses from a collision-free pool, NAT out,
// and published ports in; or an overlay across hosts (VXLAN), macvlan, the
// host's network, or none.
//
// Synopsis:
//
//	net-bridge create [--name ctrkit0] [--subnet CIDR]
//	net-bridge create --driver overlay --name NET --subnet CIDR --vni N --underlay IP [--peer IP]…
//	net-bridge overlay peer add|rm NET IP; net-bridge overlay peer ls NET
//	net-bridge attach [--id ID] [--network bridge|none|host|macvlan|NET] [-p [HOSTIP:]HOSTPORT:CTRPORT[/udp]]…
//	… | net-bridge attach [-p …] | ns-enter
//	net-bridge detach ID
//	net-bridge ls | show [--format mermaid] | doctor
//	net-bridge rm [--name ctrkit0]
//
// Options:
//
//	--explain   print each netlink and nftables step with its ip/nft equivalent on stderr
//	--state DIR where networks and address allocations are kept (CTRKIT_STATE, /run/ctrkit)
//
// The files of this package only parse flags and print; the work is done by
// package network (net-bridge/network), over netcfg, nat and ipam.
package main

import (
	"fmt"
	"io"
	"os"

	"ctrkit/internal/cli"
	"ctrkit/net-bridge/network"
)

type CLI struct {
	cli.Globals
	Create  CreateCmd  `cmd:"" help:"Create a bridge network: the bridge, its gateway address, NAT rules (idempotent)."`
	Attach  AttachCmd  `cmd:"" help:"Connect a container: network namespace, veth pair, address, route, published ports."`
	Detach  DetachCmd  `cmd:"" help:"Disconnect a container: remove its veth, rules, namespace and address."`
	Ls      LsCmd      `cmd:"" help:"List attached containers with their addresses and ports."`
	Show    ShowCmd    `cmd:"" help:"Draw the topology (bridges, veths, namespaces, addresses, NAT rules) from the live kernel."`
	Doctor  DoctorCmd  `cmd:"" help:"Check forwarding, FORWARD policy, br_netfilter, the firewall backend and routes."`
	Rm      RmCmd      `cmd:"" help:"Remove a bridge or overlay network that no container uses any more."`
	Overlay OverlayCmd `cmd:"" help:"Overlay networks (VXLAN across hosts): their peers."`
}

// Stdio are the streams a command reads and writes: stdin may carry the
// pipe document, stdout carries data only, stderr the rest.
type Stdio struct {
	Stdin          *os.File
	Stdout, Stderr io.Writer
}

// manager is the network.Manager for the global flags: explain steps and
// notices go to stderr.
func manager(g *cli.Globals, s *Stdio) *network.Manager {
	return &network.Manager{
		State: g.State,
		Log:   g.Log("net-bridge", s.Stderr),
		Notice: func(format string, a ...any) {
			fmt.Fprintf(s.Stderr, "net-bridge: "+format+"\n", a...)
		},
	}
}

// run is net-bridge with its arguments and streams: main only exits, tests
// call run.
func run(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	var c CLI
	return cli.Main("net-bridge", "Give containers a network: bridge, veth pairs, addresses, NAT and published ports, built with netlink and nftables.", &c, args, stdout, stderr,
		&c.Globals, &Stdio{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func main() {
	os.Exit(cli.Status("net-bridge", os.Stderr, run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)))
}
