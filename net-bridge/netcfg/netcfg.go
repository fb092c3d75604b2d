// Package netcfg wires container networks with netlink: bridges, veth
// pairs, macvlan links, addresses, routes and network namespaces. Each
// function says the `ip` command that does the same, and prints it in
// explain mode.
//
// Work inside a container's namespace goes through a netlink handle opened
// in that namespace (netlink.NewHandleAt), so the calling thread never
// leaves the host's namespace; only creating a namespace needs a thread of
// its own (see NewNetns).
package netcfg

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"ctrkit/internal/explain"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NetnsDir is where named network namespaces live, as `ip netns` keeps them.
const NetnsDir = "/run/netns"

// IFNAMSIZ is the kernel's limit on interface names, the final NUL included:
// a name has at most 15 bytes.
const IFNAMSIZ = 16

// CheckName refuses a name the kernel would refuse as an interface name.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("interface name is empty")
	case len(name) > IFNAMSIZ-1:
		return fmt.Errorf("interface name %q is %d bytes; Linux allows at most %d (IFNAMSIZ)", name, len(name), IFNAMSIZ-1)
	case strings.ContainsAny(name, "/: \t\n") || name == "." || name == "..":
		return fmt.Errorf("interface name %q: no '/', ':' or white space allowed", name)
	}
	return nil
}

func hint(err error) error {
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w (needs root: CAP_NET_ADMIN)", err)
	}
	return err
}

// LinkExists reports whether the host has a link called name.
func LinkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// EnsureBridge creates bridge name with address gw (e.g. 10.213.0.1/24) and
// brings it up; what already exists is left as it is.
func EnsureBridge(log *explain.Log, name string, gw *net.IPNet) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		log.Step(fmt.Sprintf("RTM_NEWLINK bridge %q", name), "ip link add "+name+" type bridge")
		if err := netlink.LinkAdd(br); err != nil {
			return fmt.Errorf("create bridge %q: %w", name, hint(err))
		}
		if link, err = netlink.LinkByName(name); err != nil {
			return err
		}
	} else if link.Type() != "bridge" {
		return fmt.Errorf("link %q exists and is a %s, not a bridge: choose another --name", name, link.Type())
	}
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list addresses of %q: %w", name, err)
	}
	have := false
	for _, a := range addrs {
		have = have || a.IPNet.String() == gw.String()
	}
	if !have {
		log.Step(fmt.Sprintf("RTM_NEWADDR %s dev %q", gw, name), fmt.Sprintf("ip addr add %s dev %s", gw, name))
		if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: gw}); err != nil {
			return fmt.Errorf("add address %s to %q: %w", gw, name, hint(err))
		}
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFF_UP", name), "ip link set "+name+" up")
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring up %q: %w", name, hint(err))
	}
	return nil
}

// DeleteLink removes link name from the host; a veth takes its peer along.
// A link that is already gone is no error.
func DeleteLink(log *explain.Log, name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	log.Step(fmt.Sprintf("RTM_DELLINK %q", name), "ip link del "+name)
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %q: %w", name, hint(err))
	}
	return nil
}

// Overlap returns the first route of the host (any table) whose destination
// overlaps subnet, ignoring default routes and routes through skip (the
// network's own bridge); "" when there is none.
func Overlap(subnet *net.IPNet, skip string) (string, error) {
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return "", fmt.Errorf("list routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.To4() == nil {
			continue
		}
		if ones, _ := r.Dst.Mask.Size(); ones == 0 {
			continue
		}
		if r.Table == unix.RT_TABLE_LOCAL {
			// local/broadcast routes of the host's own addresses: the
			// subnet routes next to them say the same.
			continue
		}
		dev := ""
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		if skip != "" && dev == skip {
			continue
		}
		if r.Dst.Contains(subnet.IP) || subnet.Contains(r.Dst.IP) {
			s := r.Dst.String()
			if dev != "" {
				s += " dev " + dev
			}
			return s, nil
		}
	}
	return "", nil
}

// NewNetns makes a network namespace that outlives us, bound to
// /run/netns/NAME like `ip netns add NAME`, and returns its path.
//
// unshare(CLONE_NEWNET) moves the calling *thread* into the new namespace,
// and the Go scheduler runs goroutines on any thread. So the work happens on
// a goroutine locked to its thread that never unlocks it: when it returns,
// the runtime ends that thread instead of reusing it in the wrong namespace.
func NewNetns(log *explain.Log, name string) (string, error) {
	if err := sharedNetnsDir(log); err != nil {
		return "", err
	}
	path := filepath.Join(NetnsDir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("network namespace %q exists already (remove it: ip netns del %s)", name, name)
		}
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	log.Step(fmt.Sprintf("unshare(CLONE_NEWNET); mount(\"/proc/self/ns/net\", %q, MS_BIND)", path), "ip netns add "+name)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", hint(err))
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("mount %s on %s (MS_BIND): %w", src, path, hint(err))
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// sharedNetnsDir makes /run/netns a mount point with shared propagation, as
// `ip netns add` does, so a namespace bound there later shows in every
// mount namespace copied from ours (containers' included).
func sharedNetnsDir(log *explain.Log) error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", NetnsDir, err)
	}
	err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		log.Step(fmt.Sprintf("mount(%q, %q, MS_BIND|MS_REC); mount(MS_SHARED)", NetnsDir, NetnsDir), "mount --bind --make-shared "+NetnsDir+" "+NetnsDir)
		if err := unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s on itself: %w", NetnsDir, hint(err))
		}
		err = unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s shared (MS_SHARED|MS_REC): %w", NetnsDir, hint(err))
	}
	return nil
}

// DeleteNetns unmounts and removes a namespace made by NewNetns, like
// `ip netns del`. The namespace itself ends when nothing uses it any more.
func DeleteNetns(log *explain.Log, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	log.Step(fmt.Sprintf("umount2(%q, MNT_DETACH); unlink(%q)", path, path), "ip netns del "+filepath.Base(path))
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", path, hint(err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// nsHandle opens a netlink handle working inside the namespace at path.
func nsHandle(path string) (*netlink.Handle, netns.NsHandle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, 0, fmt.Errorf("netlink socket in %s: %w", path, err)
	}
	return h, ns, nil
}

// nsArg is how `ip` names a namespace: by name under /run/netns, else by
// the path (ip -n wants a name; nsenter takes a path).
func nsCmd(path, cmd string) string {
	if filepath.Dir(path) == NetnsDir {
		return "ip -n " + filepath.Base(path) + " " + strings.TrimPrefix(cmd, "ip ")
	}
	return "nsenter --net=" + path + " " + cmd
}

// LoopbackUp brings up lo in the namespace at path: every container has it,
// even with --network none.
func LoopbackUp(log *explain.Log, path string) error {
	h, ns, err := nsHandle(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	return linkUp(log, h, path, "lo")
}

func linkUp(log *explain.Log, h *netlink.Handle, path, name string) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("find %q in %s: %w", name, path, err)
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFF_UP (in %s)", name, path), nsCmd(path, "ip link set "+name+" up"))
	if err := h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bring up %q in %s: %w", name, path, err)
	}
	return nil
}

// Veth creates a veth pair: host on the host, plugged into bridge and up,
// and eth0 created directly inside the namespace at path, so no name there
// ever collides with one on the host.
func Veth(log *explain.Log, host, bridge, path string) error {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return fmt.Errorf("bridge %q: %w (create it: net-bridge create --name %s)", bridge, err, bridge)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	veth := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: host, MasterIndex: br.Attrs().Index},
		PeerName:      "eth0",
		PeerNamespace: netlink.NsFd(ns),
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK veth %q master %q peer \"eth0\" IFLA_NET_NS_FD %s", host, bridge, path),
		fmt.Sprintf("ip link add %s master %s type veth peer name eth0 netns %s", host, bridge, nsName(path)))
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create veth %q: a link of that name exists already", host)
		}
		return fmt.Errorf("create veth %q (peer eth0 in %s): %w", host, path, hint(err))
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFF_UP", host), "ip link set "+host+" up")
	if err := netlink.LinkSetUp(veth); err != nil {
		return fmt.Errorf("bring up %q: %w", host, err)
	}
	return nil
}

// Macvlan creates a macvlan link of parent (bridge mode: macvlans of one
// parent reach each other, and the wire; never the parent itself) directly
// inside the namespace at path, named eth0.
func Macvlan(log *explain.Log, parent, path string) error {
	p, err := netlink.LinkByName(parent)
	if err != nil {
		return fmt.Errorf("macvlan parent %q: %w", parent, err)
	}
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", path, err)
	}
	defer ns.Close()
	// IFLA_NET_NS_FD in the request makes the kernel create the link in
	// the container's namespace straight away, so "eth0" is checked there.
	mv := &netlink.Macvlan{
		LinkAttrs: netlink.LinkAttrs{Name: "eth0", ParentIndex: p.Attrs().Index, Namespace: netlink.NsFd(ns)},
		Mode:      netlink.MACVLAN_MODE_BRIDGE,
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK macvlan \"eth0\" link %q mode bridge IFLA_NET_NS_FD %s", parent, path),
		fmt.Sprintf("ip link add eth0 link %s netns %s type macvlan mode bridge", parent, nsName(path)))
	if err := netlink.LinkAdd(mv); err != nil {
		return fmt.Errorf("create macvlan of %q in %s: %w", parent, path, hint(err))
	}
	return nil
}

func nsName(path string) string {
	if filepath.Dir(path) == NetnsDir {
		return filepath.Base(path)
	}
	return path
}

// Address configures the container's side, inside the namespace at path:
// lo and eth0 up, addr on eth0, and a default route via gw (nil: none).
func Address(log *explain.Log, path string, addr *net.IPNet, gw net.IP) error {
	h, ns, err := nsHandle(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	if err := linkUp(log, h, path, "lo"); err != nil {
		return err
	}
	eth, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("find eth0 in %s: %w", path, err)
	}
	log.Step(fmt.Sprintf("RTM_NEWADDR %s dev \"eth0\" (in %s)", addr, path), nsCmd(path, fmt.Sprintf("ip addr add %s dev eth0", addr)))
	if err := h.AddrAdd(eth, &netlink.Addr{IPNet: addr}); err != nil {
		return fmt.Errorf("add address %s to eth0 in %s: %w", addr, path, err)
	}
	if err := linkUp(log, h, path, "eth0"); err != nil {
		return err
	}
	if gw == nil {
		return nil
	}
	log.Step(fmt.Sprintf("RTM_NEWROUTE default via %s dev \"eth0\" (in %s)", gw, path), nsCmd(path, fmt.Sprintf("ip route add default via %s", gw)))
	if err := h.RouteAdd(&netlink.Route{LinkIndex: eth.Attrs().Index, Gw: gw}); err != nil {
		return fmt.Errorf("add default route via %s in %s: %w", gw, path, err)
	}
	return nil
}

// AddrOf returns the IPv4 addresses of link name inside the namespace at
// path ("" for the host's), read live from the kernel.
func AddrOf(path, name string) ([]string, error) {
	h := &netlink.Handle{}
	if path != "" {
		var ns netns.NsHandle
		var err error
		if h, ns, err = nsHandle(path); err != nil {
			return nil, err
		}
		defer ns.Close()
		defer h.Close()
	}
	l, err := h.LinkByName(name)
	if err != nil {
		return nil, err
	}
	addrs, err := h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		out = append(out, a.IPNet.String())
	}
	return out, nil
}

// HostAddrs lists the IPv4 addresses of link name on the host.
func HostAddrs(name string) ([]net.IP, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("link %q: %w", name, err)
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []net.IP
	for _, a := range addrs {
		out = append(out, a.IP)
	}
	return out, nil
}

// Ports lists the links plugged into bridge, live from the kernel.
func Ports(bridge string) ([]string, error) {
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		return nil, err
	}
	links, err := netlink.LinkList()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index {
			out = append(out, l.Attrs().Name)
		}
	}
	return out, nil
}

// LinkState is "up" or "down" for link name, or "missing".
func LinkState(name string) string {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return "missing"
	}
	if l.Attrs().Flags&net.FlagUp != 0 {
		return "up"
	}
	return "down"
}
