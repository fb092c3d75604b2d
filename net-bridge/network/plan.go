package network

import (
	"fmt"
	"os"
	"path/filepath"

	"ctrkit/internal/ident"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/netcfg"
)

// Options say how to attach a container, as net-bridge attach's flags do.
type Options struct {
	ID      string   // container id; "": the document's, or a new one
	Network string   // bridge (""), none, host, macvlan, or a network's name (as Name)
	Name    string   // the bridge network to attach to; "": DefaultBridge
	Publish []string // ports, docker's -p syntax [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp]
	Netns   string   // an existing namespace file to use instead of making one
	PID     int      // use the namespace of this running process instead
	Parent  string   // macvlan: the host interface to hang it off
	Subnet  string   // macvlan: the parent's LAN (needed the first time)
	Gateway string   // macvlan: the LAN's default gateway ("": its first address)
}

// plan is what an attach will make, worked out and checked before anything
// is made.
type plan struct {
	id       string
	link     string // the host end of the veth pair, ck-ID
	nsName   string // the namespace's name under /run/netns, ck-ID
	nsPath   string // the namespace file the container joins
	ownNetns bool   // net-bridge makes (and detach removes) the namespace
	netName  string // the network in the store
	ports    []ipam.Port
}

// names returns the host-side link and namespace names of container id.
func names(id string) (link, netnsName string, err error) {
	if !ident.Valid(id, 0) {
		return "", "", fmt.Errorf("container id %q: use letters, digits, '_', '.' and '-'", id)
	}
	link = "ck-" + id
	if err := netcfg.CheckName(link); err != nil {
		return "", "", fmt.Errorf("container id %q is too long for its veth: %w; use an id of at most 12 bytes", id, err)
	}
	return link, link, nil
}

// newPlan checks o for container id (not --network host) and works out
// the names, ports, namespace and network.
func newPlan(id string, o Options) (*plan, error) {
	p := &plan{id: id}
	var err error
	if p.link, p.nsName, err = names(id); err != nil {
		return nil, err
	}
	for _, s := range o.Publish {
		port, err := ipam.ParsePort(s)
		if err != nil {
			return nil, err
		}
		p.ports = append(p.ports, port)
	}
	if o.Network != ipam.Bridge && len(p.ports) > 0 {
		return nil, fmt.Errorf("--network %s: publishing ports needs --network bridge", o.Network)
	}
	switch {
	case o.PID != 0:
		p.nsPath = fmt.Sprintf("/proc/%d/ns/net", o.PID)
		if _, err := os.Stat(p.nsPath); err != nil {
			return nil, fmt.Errorf("--pid %d: %w", o.PID, err)
		}
	case o.Netns != "":
		p.nsPath = o.Netns
		if _, err := os.Stat(p.nsPath); err != nil {
			return nil, fmt.Errorf("--netns: %w", err)
		}
	default:
		p.nsPath, p.ownNetns = filepath.Join(netcfg.NetnsDir, p.nsName), true
	}
	switch o.Network {
	case "none":
		p.netName = "none"
	case ipam.Macvlan:
		if o.Parent == "" {
			return nil, fmt.Errorf("--network macvlan needs --parent IF, the host interface to hang the macvlan off")
		}
		p.netName = "macvlan-" + o.Parent
	default:
		p.netName = o.Name
	}
	return p, nil
}
