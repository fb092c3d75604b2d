package network

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
)

// Orphans. The kernel objects of a bridge network (the bridge, the rules
// in table ip ctrkit) belong to the network namespace, its records to a
// state dir (CTRKIT_STATE). When the records go (the state dir removed, a
// test's temp dir, another CTRKIT_STATE) and the objects stay, the objects
// are orphans: a later run with a fresh state dir finds ctrkit0 taken and
// cannot make its default network. Doctor names them, and --fix removes
// them, but only what ctrkit made: a bridge carries a mark, its alias
// ("ctrkit network NAME state DIR", set when net-bridge makes it), and a
// rule of table ip ctrkit its owner in its comment. A bridge without the
// mark is never touched, whatever its name.

// markPrefix starts the alias net-bridge gives the bridges it makes.
const markPrefix = "ctrkit network "

// mark is the alias of network n's bridge: who made it, for which state dir.
func (m *Manager) mark(n *ipam.Network) string {
	return markPrefix + n.Name + " state " + m.State
}

// parseMark reads a bridge alias made by mark.
func parseMark(alias string) (name, state string, ok bool) {
	rest, ok := strings.CutPrefix(alias, markPrefix)
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, " state ")
}

// orphan is one orphan kernel object, and how to remove it.
type orphan struct {
	what   string
	advice string
	fix    func() error // nil: not ctrkit's to remove, or not safely
}

// orphans finds the ctrkit bridges and rules that no record of nets (this
// state dir's networks) or of the state dir their mark names explains.
func (m *Manager) orphans(nets map[string]*ipam.Network) ([]orphan, error) {
	ours := map[string]bool{} // bridges this state dir records
	for _, n := range nets {
		if n.Driver == ipam.Bridge {
			ours[n.Link] = true
		}
	}
	bridges, err := netcfg.Bridges()
	if err != nil {
		return nil, err
	}
	var out []orphan
	gone := map[string]bool{} // orphan bridges --fix removes: their rules go too
	for _, br := range sortedKeys(bridges) {
		if ours[br] {
			continue
		}
		name, state, marked := parseMark(bridges[br])
		if !marked {
			if strings.HasPrefix(br, DefaultBridge[:len(DefaultBridge)-1]) {
				out = append(out, orphan{what: fmt.Sprintf("bridge %s is not in this state dir (%s) and carries no ctrkit mark (alias): ctrkit leaves it alone", br, m.State),
					advice: "if an older ctrkit made it and nothing uses it: ip link del " + br})
			}
			continue
		}
		if state != m.State {
			if other, err := ipam.Open(filepath.Join(state, "net")).Load(); err == nil && other[name] != nil {
				out = append(out, orphan{what: fmt.Sprintf("bridge %s belongs to ctrkit network %q of another state dir, %s", br, name, state),
					advice: "use that state dir (CTRKIT_STATE=" + state + "), or remove the network there (CTRKIT_STATE=" + state + " net-bridge rm --name " + name + ")"})
				continue
			}
		}
		o := orphan{what: fmt.Sprintf("bridge %s is an orphan: ctrkit made it for network %q of state dir %s, which no longer records it", br, name, state),
			advice: "net-bridge doctor --fix removes it and its rules"}
		if ports, _ := netcfg.Ports(br); len(ports) > 0 {
			o.advice = fmt.Sprintf("links are still plugged into it (%s): remove those containers, then net-bridge doctor --fix", strings.Join(ports, ", "))
		} else {
			gone["net "+name] = true
			o.fix = func() error {
				if err := nat.RemoveNetwork(m.Log, name); err != nil {
					return err
				}
				return netcfg.DeleteLink(m.Log, br)
			}
		}
		out = append(out, o)
	}

	// Rules of table ip ctrkit whose owner no record explains.
	rules, err := nat.Rules()
	if err != nil {
		return out, nil // no nftables here: nothing to say about rules
	}
	owners := map[string]bool{}
	for _, list := range rules {
		for _, o := range list {
			owners[o] = true
		}
	}
	for _, owner := range sortedKeys(owners) {
		if gone[owner] {
			continue
		}
		if name, ok := strings.CutPrefix(owner, "net "); ok {
			if nets[name] != nil || netcfg.LinkExists(name) {
				continue // ours, or its bridge is reported above
			}
			out = append(out, orphan{what: fmt.Sprintf("table ip %s has rules of network %q, whose bridge is gone", nat.Table, name),
				advice: "net-bridge doctor --fix removes them", fix: func() error { return nat.RemoveNetwork(m.Log, name) }})
			continue
		}
		id := owner
		if _, ep := ipam.Find(nets, id); ep != nil {
			continue
		}
		if link, ns, err := names(id); err == nil && (netcfg.LinkExists(link) || exists(filepath.Join(netcfg.NetnsDir, ns))) {
			continue // the container may live in another state dir
		}
		out = append(out, orphan{what: fmt.Sprintf("table ip %s has published-port rules of container %s, which has no namespace or veth left", nat.Table, id),
			advice: "net-bridge doctor --fix removes them", fix: func() error { return nat.RemovePorts(m.Log, id) }})
	}
	return out, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
