// Command net-bridge connects containers to a network: a Linux bridge with a
// veth pair per container, addresses from a collision-free pool, NAT out,
// and published ports in; or macvlan, the host's network, or none.
//
// Synopsis:
//
//	net-bridge create [--name ctrkit0] [--subnet CIDR]
//	net-bridge attach [--id ID] [--network bridge|none|host|macvlan] [-p [HOSTIP:]HOSTPORT:CTRPORT[/udp]]…
//	… | net-bridge attach [-p …] | ns-enter
//	net-bridge detach ID
//	net-bridge ls | show | doctor
//	net-bridge rm [--name ctrkit0]
//
// Options:
//
//	--explain   print each netlink and nftables step with its ip/nft equivalent on stderr
//	--state DIR where networks and address allocations are kept (CTRKIT_STATE, /run/ctrkit)
package main

import (
	"ctrkit/internal/cli"

	"github.com/alecthomas/kong"
)

type CLI struct {
	cli.Globals
	Create CreateCmd `cmd:"" help:"Create a bridge network: the bridge, its gateway address, NAT rules (idempotent)."`
	Attach AttachCmd `cmd:"" help:"Connect a container: network namespace, veth pair, address, route, published ports."`
	Detach DetachCmd `cmd:"" help:"Disconnect a container: remove its veth, rules, namespace and address."`
	Ls     LsCmd     `cmd:"" help:"List attached containers with their addresses and ports."`
	Show   ShowCmd   `cmd:"" help:"Draw the topology (bridges, veths, namespaces, addresses, NAT rules) from the live kernel."`
	Doctor DoctorCmd `cmd:"" help:"Check forwarding, FORWARD policy, br_netfilter, the firewall backend and routes."`
	Rm     RmCmd     `cmd:"" help:"Remove a bridge network that no container uses any more."`
}

func main() {
	var c CLI
	ctx := kong.Parse(&c, kong.Name("net-bridge"),
		kong.Description("Give containers a network: bridge, veth pairs, addresses, NAT and published ports, built with netlink and nftables."),
		kong.UsageOnError())
	cli.Exit(ctx, ctx.Run(&c.Globals))
}
