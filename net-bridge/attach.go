package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	kitstore "ctrkit/internal/store"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type AttachCmd struct {
	ID      string   `help:"Container id (default: the document's, or a new one). At most 12 bytes: the host's veth is ck-ID, an interface name (15 bytes)." placeholder:"ID"`
	Network string   `help:"bridge (the default), none (only lo), host (share the host's namespace) or macvlan." default:"bridge" enum:"bridge,none,host,macvlan"`
	Name    string   `help:"Bridge network to attach to (created with default settings if it is the default and missing)." default:"ctrkit0"`
	Publish []string `short:"p" help:"Publish a port: [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp], like docker -p; repeatable." placeholder:"PORT"`
	Netns   string   `help:"Use this existing network namespace file instead of making one." placeholder:"PATH" xor:"ns"`
	PID     int      `name:"pid" help:"Use the network namespace of running process PID instead of making one." placeholder:"PID" xor:"ns"`
	Parent  string   `help:"macvlan: the host interface the container's macvlan hangs off." placeholder:"IF"`
	Subnet  string   `help:"macvlan: the subnet of the parent's LAN (needed the first time)." placeholder:"CIDR"`
	Gateway string   `help:"macvlan: the default gateway on the parent's LAN (default: its first address)." placeholder:"IP"`
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
filesystem, and every resource made is recorded for 'net-bridge detach ID'. Standalone, it
prints "ID ADDRESS NETNS".`
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// names returns the host-side link and namespace names of container id.
func names(id string) (link, netnsName string, err error) {
	if !idRE.MatchString(id) {
		return "", "", fmt.Errorf("container id %q: use letters, digits, '_', '.' and '-'", id)
	}
	link = "ck-" + id
	if err := netcfg.CheckName(link); err != nil {
		return "", "", fmt.Errorf("container id %q is too long for its veth: %w; use an id of at most 12 bytes", id, err)
	}
	return link, link, nil
}

// undo is a stack of steps that take back what an attach made, so a
// failure leaves nothing half-made.
type undo []func()

func (u *undo) push(f func()) { *u = append(*u, f) }
func (u undo) run() {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]()
	}
}

func (c *AttachCmd) Run(g *cli.Globals) (err error) {
	log := g.Log("net-bridge", os.Stderr)
	doc, err := spec.FromStdin(os.Stdin)
	if err != nil {
		return fmt.Errorf("stdin: %w", err)
	}
	piped := doc != nil
	if doc == nil {
		doc = &specs.Spec{Version: specs.Version}
	}
	if c.ID != "" {
		if doc.Annotations == nil {
			doc.Annotations = map[string]string{}
		}
		doc.Annotations[spec.IDAnnotation] = c.ID
	}
	id := spec.ID(doc)

	if c.Network == "host" {
		if len(c.Publish) > 0 {
			return fmt.Errorf("--network host: nothing to publish, the container's ports are the host's")
		}
		log.Note("--network host: no namespace of its own, the container sees the host's interfaces")
		if piped {
			setNetns(doc, "")
			return spec.Write(os.Stdout, doc)
		}
		fmt.Printf("%s host\n", id)
		return nil
	}

	link, nsName, err := names(id)
	if err != nil {
		return err
	}
	var ports []ipam.Port
	for _, p := range c.Publish {
		port, err := ipam.ParsePort(p)
		if err != nil {
			return err
		}
		ports = append(ports, port)
	}
	if c.Network != "bridge" && len(ports) > 0 {
		return fmt.Errorf("--network %s: publishing ports needs --network bridge", c.Network)
	}

	nsPath, ownNetns := c.Netns, false
	switch {
	case c.PID != 0:
		nsPath = fmt.Sprintf("/proc/%d/ns/net", c.PID)
		if _, err := os.Stat(nsPath); err != nil {
			return fmt.Errorf("--pid %d: %w", c.PID, err)
		}
	case nsPath != "":
		if _, err := os.Stat(nsPath); err != nil {
			return fmt.Errorf("--netns: %w", err)
		}
	default:
		nsPath, ownNetns = filepath.Join(netcfg.NetnsDir, nsName), true
	}

	// 1. Under the lock: the network, an address, the ports. Only the
	// state file changes here; the kernel work follows without the lock,
	// so fifty attaches at once wait for each other only briefly.
	netName := c.Name
	switch c.Network {
	case "none":
		netName = "none"
	case "macvlan":
		if c.Parent == "" {
			return fmt.Errorf("--network macvlan needs --parent IF, the host interface to hang the macvlan off")
		}
		netName = "macvlan-" + c.Parent
	}
	var n *ipam.Network
	var ip net.IP
	st := store(g)
	err = st.Update(func(nets map[string]*ipam.Network) error {
		if other, ep := ipam.Find(nets, id); ep != nil {
			return fmt.Errorf("container %s is attached already (network %q, %s): net-bridge detach %s", id, other.Name, ep.IP, id)
		}
		var err error
		if n, err = c.network(log, nets, netName); err != nil {
			return err
		}
		for _, p := range ports {
			for _, name := range ipam.Names(nets) {
				for _, ep := range nets[name].Endpoints {
					for _, q := range ep.Ports {
						if p.Conflicts(q) {
							return fmt.Errorf("port %s is published already, by container %s (%s): choose another host port", p, ep.ID, q)
						}
					}
				}
			}
		}
		if n.Driver == "none" {
			n.Endpoints[id] = &ipam.Endpoint{ID: id}
		} else if ip, err = n.Allocate(id); err != nil {
			return err
		}
		ep := n.Endpoints[id]
		ep.Netns, ep.OwnNetns, ep.Ports = nsPath, ownNetns, ports
		if n.Driver == ipam.Bridge {
			ep.HostLink = link
		}
		return nil
	})
	if err != nil {
		return err
	}

	// 2. The kernel, with every step's undo on a stack.
	var u undo
	u.push(func() {
		st.Update(func(nets map[string]*ipam.Network) error {
			if n := nets[netName]; n != nil {
				n.Release(id)
				if n.Driver != ipam.Bridge && len(n.Endpoints) == 0 {
					delete(nets, netName)
				}
			}
			return nil
		})
	})
	defer func() {
		if err != nil {
			u.run()
		}
	}()
	if ownNetns {
		if _, err = netcfg.NewNetns(log, nsName); err != nil {
			return err
		}
		u.push(func() { netcfg.DeleteNetns(nil, nsPath) })
	}
	_, subnet, _ := net.ParseCIDR(n.Subnet)
	switch n.Driver {
	case "none":
		if err = netcfg.LoopbackUp(log, nsPath); err != nil {
			return err
		}
	case ipam.Bridge:
		if err = netcfg.Veth(log, link, n.Link, nsPath); err != nil {
			return err
		}
		u.push(func() { netcfg.DeleteLink(nil, link) })
	case ipam.Macvlan:
		if err = netcfg.Macvlan(log, n.Link, nsPath); err != nil {
			return err
		}
	}
	if n.Driver != "none" {
		if err = netcfg.Address(log, nsPath, &net.IPNet{IP: ip, Mask: subnet.Mask}, net.ParseIP(n.Gateway)); err != nil {
			return err
		}
	}
	if err = nat.AddPorts(log, id, n.Link, ip, ports); err != nil {
		return err
	}
	u.push(func() { nat.RemovePorts(nil, id) })

	// 3. The container's files, and the record of what was made.
	hostname := doc.Hostname
	if hostname == "" {
		hostname = id
	}
	files, err := writeFiles(log, g.State, id, hostname, ip)
	if err != nil {
		return err
	}
	u.push(func() { removeFiles(g.State, id) })
	detach := []string{"net-bridge", "detach", id}
	if ownNetns {
		if err = spec.Record(doc, g.State, spec.Resource{Stage: "net-bridge", Kind: "netns", Name: nsPath, Undo: detach}); err != nil {
			return err
		}
	}
	if n.Driver == ipam.Bridge {
		if err = spec.Record(doc, g.State, spec.Resource{Stage: "net-bridge", Kind: "link", Name: link, Undo: detach}); err != nil {
			return err
		}
	}
	if n.Driver != "none" {
		if err = spec.Record(doc, g.State, spec.Resource{Stage: "net-bridge", Kind: "address", Name: ip.String() + " in " + n.Name, Undo: detach}); err != nil {
			return err
		}
	}
	for _, p := range ports {
		if err = spec.Record(doc, g.State, spec.Resource{Stage: "net-bridge", Kind: "nft-rule", Name: fmt.Sprintf("table ip %s: %s -> %s:%d", nat.Table, p, ip, p.CtrPort), Undo: detach}); err != nil {
			return err
		}
	}

	if !piped {
		addr := "-"
		if ip != nil {
			addr = ip.String()
		}
		fmt.Printf("%s %s %s\n", id, addr, nsPath)
		return nil
	}
	setNetns(doc, nsPath)
	if doc.Root != nil && doc.Root.Path != "" {
		for _, f := range files {
			doc.Mounts = append(doc.Mounts, specs.Mount{Destination: "/etc/" + filepath.Base(f), Type: "bind", Source: f, Options: []string{"rbind", "ro"}})
		}
	}
	return spec.Write(os.Stdout, doc)
}

// network finds (or, for the defaults, makes) the network to attach to;
// it runs under the store's lock.
func (c *AttachCmd) network(log *explain.Log, nets map[string]*ipam.Network, name string) (*ipam.Network, error) {
	if n, ok := nets[name]; ok {
		if n.Driver == ipam.Bridge && !netcfg.LinkExists(n.Link) {
			// The state outlived the bridge (a reboot, or the network
			// namespace holding it was deleted): make it again.
			log.Note("network %q is recorded but its bridge %s is gone: making it again", name, n.Link)
			_, subnet, err := net.ParseCIDR(n.Subnet)
			if err != nil {
				return nil, fmt.Errorf("network %q: subnet %q: %w", name, n.Subnet, err)
			}
			if err := wireNetwork(log, n, subnet); err != nil {
				return nil, err
			}
		}
		return n, nil
	}
	switch c.Network {
	case "none":
		n := &ipam.Network{Name: name, Driver: "none", Endpoints: map[string]*ipam.Endpoint{}}
		nets[name] = n
		return n, nil
	case "macvlan":
		if c.Subnet == "" {
			return nil, fmt.Errorf("--network macvlan: the first container on %q needs --subnet, the subnet of its LAN", c.Parent)
		}
		ipnet, sn, err := net.ParseCIDR(c.Subnet)
		if err != nil || ipnet.To4() == nil {
			return nil, fmt.Errorf("subnet %q is not an IPv4 address/prefix like 192.168.1.0/24", c.Subnet)
		}
		host, err := netcfg.HostAddrs(c.Parent)
		if err != nil {
			return nil, fmt.Errorf("--parent: %w", err)
		}
		gw := ipam.FirstHost(sn)
		if c.Gateway != "" {
			if gw = net.ParseIP(c.Gateway); gw == nil || !sn.Contains(gw) {
				return nil, fmt.Errorf("--gateway %q is not an address in %s", c.Gateway, sn)
			}
		}
		n := &ipam.Network{Name: name, Driver: ipam.Macvlan, Link: c.Parent, Subnet: sn.String(), Gateway: gw.String(), Endpoints: map[string]*ipam.Endpoint{}}
		for _, a := range host { // never hand out the host's own address
			n.Reserved = append(n.Reserved, a.String())
		}
		nets[name] = n
		return n, nil
	}
	if name != DefaultBridge {
		return nil, fmt.Errorf("no network %q: create it first (net-bridge create --name %s)", name, name)
	}
	return createNetwork(log, nets, name, "")
}

// setNetns puts the network namespace at path into the document, replacing
// any network entry; path "" removes it (the host's network).
func setNetns(doc *specs.Spec, path string) {
	if doc.Linux == nil {
		doc.Linux = &specs.Linux{}
	}
	var out []specs.LinuxNamespace
	for _, ns := range doc.Linux.Namespaces {
		if ns.Type != specs.NetworkNamespace {
			out = append(out, ns)
		}
	}
	if path != "" {
		out = append(out, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: path})
	}
	doc.Linux.Namespaces = out
}

var ctrFiles = []string{"resolv.conf", "hosts", "hostname"}

// writeFiles writes STATE/ID/{resolv.conf,hosts,hostname}. resolv.conf is
// the host's without loopback name servers (127.0.0.53 of systemd-resolved
// is the host's own loopback, unreachable from the container); Docker then
// falls back to 8.8.8.8, ctrkit leaves the list empty and says so.
func writeFiles(log *explain.Log, state, id, hostname string, ip net.IP) ([]string, error) {
	dir := filepath.Join(state, id)
	if err := kitstore.EnsureState(state); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	var resolv strings.Builder
	host, _ := os.ReadFile("/etc/resolv.conf")
	servers := 0
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a := net.ParseIP(f[1]); a == nil || a.IsLoopback() {
				continue
			}
			servers++
		}
		if len(f) > 0 {
			resolv.WriteString(line + "\n")
		}
	}
	if servers == 0 {
		log.Note("the host's resolv.conf has no name server a container can reach: the container's has none")
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if ip != nil {
		hosts += ip.String() + "\t" + hostname + "\n"
	}
	content := map[string]string{"resolv.conf": resolv.String(), "hosts": hosts, "hostname": hostname + "\n"}
	var out []string
	for _, name := range ctrFiles {
		path := filepath.Join(dir, name)
		log.Step(fmt.Sprintf("write(%q)", path), fmt.Sprintf("printf … > %s", path))
		if err := os.WriteFile(path, []byte(content[name]), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		out = append(out, path)
	}
	return out, nil
}

// removeFiles removes what writeFiles wrote and net-bridge's entries in
// STATE/ID/resources.json, and the directory when nothing else is left.
func removeFiles(state, id string) error {
	dir := filepath.Join(state, id)
	for _, name := range ctrFiles {
		os.Remove(filepath.Join(dir, name))
	}
	if lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR, 0); err == nil {
		defer lock.Close()
		syscall.Flock(int(lock.Fd()), syscall.LOCK_EX)
	}
	rs, err := spec.StateResources(state, id)
	if err != nil {
		return err
	}
	var keep []spec.Resource
	for _, r := range rs {
		if r.Stage != "net-bridge" {
			keep = append(keep, r)
		}
	}
	res := filepath.Join(dir, "resources.json")
	if len(keep) > 0 {
		data, _ := json.MarshalIndent(keep, "", "  ")
		return os.WriteFile(res, append(data, '\n'), 0o600)
	}
	os.Remove(res)
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 1 && entries[0].Name() == ".lock" {
		os.Remove(filepath.Join(dir, ".lock"))
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		return err
	}
	return nil
}

type DetachCmd struct {
	ID string `arg:"" help:"Container id, as attach printed it or the document's ctrkit.id."`
}

func (c *DetachCmd) Help() string {
	return `Deletes the container's published-port rules (by their comment "ctrkit ID"), its veth pair
(deleting one end deletes both), the network namespace net-bridge made for it (umount and
unlink /run/netns/ck-ID), its files in STATE/ID/, and releases its address. Whatever is
already gone is skipped, so detach also cleans up after a crash.`
}

func (c *DetachCmd) Run(g *cli.Globals) error {
	log := g.Log("net-bridge", os.Stderr)
	found := false
	err := store(g).Update(func(nets map[string]*ipam.Network) error {
		n, ep := ipam.Find(nets, c.ID)
		if ep == nil {
			return nil
		}
		found = true
		if err := nat.RemovePorts(log, c.ID); err != nil {
			return err
		}
		if ep.HostLink != "" {
			if err := netcfg.DeleteLink(log, ep.HostLink); err != nil {
				return err
			}
		}
		if ep.OwnNetns {
			if err := netcfg.DeleteNetns(log, ep.Netns); err != nil {
				return err
			}
		}
		n.Release(c.ID)
		if n.Driver != ipam.Bridge && len(n.Endpoints) == 0 {
			delete(nets, n.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := removeFiles(g.State, c.ID); err != nil {
		return err
	}
	if !found {
		// A crash may have left kernel objects without state: try by name.
		if link, nsName, err := names(c.ID); err == nil {
			netcfg.DeleteLink(log, link)
			netcfg.DeleteNetns(log, filepath.Join(netcfg.NetnsDir, nsName))
			nat.RemovePorts(log, c.ID)
		}
		log.Note("container %s was not attached (nothing in %s)", c.ID, store(g).Dir())
	}
	return nil
}
