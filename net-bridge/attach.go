package main

import (
	"errors"
	"fmt"

	"ctrkit/internal/cli"
	"ctrkit/internal/hold"
	"ctrkit/internal/spec"
	"ctrkit/net-bridge/network"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type AttachCmd struct {
	ID      string   `help:"Container id (default: the document's, or a new one). At most 12 bytes: the host's veth is ck-ID, an interface name (15 bytes)." placeholder:"ID"`
	Network string   `help:"bridge (the default), none (only lo), host (share the host's namespace), macvlan, or the name of a network net-bridge create made (a bridge or an overlay), as docker run --network NET." default:"bridge"`
	Name    string   `help:"Bridge network to attach to (created with default settings if it is the default and missing)." default:"ctrkit0"`
	Publish []string `short:"p" help:"Publish a port: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp], like docker -p; repeatable." placeholder:"PORT"`
	Netns   string   `help:"Use this existing network namespace file instead of making one." placeholder:"PATH" xor:"ns"`
	PID     int      `name:"pid" help:"Use the network namespace of running process PID instead of making one." placeholder:"PID" xor:"ns"`
	Parent  string   `help:"macvlan: the host interface the container's macvlan hangs off." placeholder:"IF"`
	Subnet  string   `help:"macvlan: the subnet of the parent's LAN (default: the subnet of the parent's first address)." placeholder:"CIDR"`
	Gateway string   `help:"macvlan: the default gateway on the parent's LAN (default: its first address)." placeholder:"IP"`
	Hold    int      `help:"In a pipe, after printing the spec (and closing stdout), stay and read descriptor FD: the line \"rm\" disconnects the container as net-bridge detach ID would; end of file without it leaves it connected (ctr-run --rm holds its stages so)." placeholder:"FD"`
}

func (c *AttachCmd) Help() string {
	return `Makes a network namespace for the container, visible to 'ip netns' as ck-ID (unless --netns
or --pid names one), creates a veth pair with one end, eth0, inside it and the other, ck-ID,
plugged into the bridge, brings up lo and eth0, gives eth0 the next free address of the
subnet (allocations are kept in STATE/net/networks.json under a file lock), routes by default
through the bridge's address, writes resolv.conf, hosts and hostname for the container in
STATE/ID/, and publishes ports with nftables DNAT rules that work from outside and from the
host itself (127.0.0.1).

In a pipe, the document gets the namespace as linux.namespaces {"type": "network", "path":
"/run/netns/ck-ID"} (ns-enter joins it), bind mounts of those files when it has a root
filesystem, and every resource made is recorded for 'net-bridge detach ID'. Standalone (stdin
a terminal or /dev/null), it prints "ID ADDRESS NETNS". An empty pipe stops it with nothing made:
that is the stage before it failing.

--network NET attaches to the network NET made by net-bridge create: on an overlay, the
address comes from this host's range, the veth gets the overlay's MTU, and there is no
default route (an overlay reaches only its own containers, on every host).`
}

func (c *AttachCmd) Run(g *cli.Globals, s *Stdio) error {
	doc, err := spec.FromPipe(s.Stdin)
	if errors.Is(err, spec.ErrEmptyPipe) {
		return fmt.Errorf("stdin: %w; nothing was made (to attach without a document, give stdin from a terminal or </dev/null)", err)
	}
	if err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	piped := doc != nil
	if !piped {
		doc = &specs.Spec{Version: specs.Version}
	}
	a, err := manager(g, s).Attach(doc, network.Options{
		ID: c.ID, Network: c.Network, Name: c.Name, Publish: c.Publish, Netns: c.Netns, PID: c.PID,
		Parent: c.Parent, Subnet: c.Subnet, Gateway: c.Gateway,
	})
	switch {
	case err != nil:
		return err
	case piped && c.Hold != 0:
		if err := spec.Write(s.Stdout, doc); err != nil {
			return err
		}
		if rm, err := hold.Wait(s.Stdout, s.Stderr, c.Hold); err != nil || !rm { // internal/hold
			return err
		}
		return (&DetachCmd{ID: a.ID}).Run(g, s)
	case piped:
		return spec.Write(s.Stdout, doc)
	case c.Network == "host":
		fmt.Fprintf(s.Stdout, "%s host\n", a.ID)
	case a.IP == nil:
		fmt.Fprintf(s.Stdout, "%s - %s\n", a.ID, a.Netns)
	default:
		fmt.Fprintf(s.Stdout, "%s %s %s\n", a.ID, a.IP, a.Netns)
	}
	return nil
}
