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
//
// The files of this package only parse flags and print; the work is done by
// package network (net-bridge/network), over netcfg, nat and ipam.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"ctrkit/internal/cli"
	"ctrkit/net-bridge/network"

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

// exited is how kong's exit (after --help, or a usage error it printed)
// leaves run: a panic that run recovers, since kong expects exit not to
// return.
type exited int

// run is net-bridge with its arguments and streams: main only exits, tests
// call run. Errors are returned, not printed, except kong's own usage
// errors, which it prints with the usage (and which return an ExitError
// without a message).
func run(args []string, stdin *os.File, stdout, stderr io.Writer) (err error) {
	var c CLI
	k, err := kong.New(&c, kong.Name("net-bridge"),
		kong.Description("Give containers a network: bridge, veth pairs, addresses, NAT and published ports, built with netlink and nftables."),
		kong.UsageOnError(),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exited(code)) }))
	if err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			code, ok := r.(exited)
			if !ok {
				panic(r)
			}
			err = &cli.ExitError{Code: int(code)}
		}
	}()
	ctx, err := k.Parse(args)
	if err != nil {
		k.FatalIfErrorf(err) // prints the usage and the error, then exits
	}
	return ctx.Run(&c.Globals, &Stdio{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// status prints err once, as kong would ("net-bridge: error: …"), or as
// cli.Exit does for an error with an exit code, and returns the code.
func status(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		var e *cli.ExitError
		if !errors.As(err, &e) || e.Err != nil {
			fmt.Fprintf(stderr, "net-bridge: %v\n", err)
		}
		return coded.ExitCode()
	}
	// kong's format: continuation lines under the first line's text.
	const leader = "net-bridge: error: "
	for i, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		if i > 0 {
			line = strings.Repeat(" ", len(leader)) + line
		} else {
			line = leader + line
		}
		fmt.Fprintln(stderr, line)
	}
	return 1
}

func main() {
	os.Exit(status(os.Stderr, run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)))
}
