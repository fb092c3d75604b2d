// Package network puts net-bridge's steps together: it makes a bridge
// network (Create), connects a container to one (Attach), takes both apart
// again (Detach, Remove), and reads back what exists (List, Show, Doctor).
// The kernel work is done by netcfg (netlink) and nat (nftables), the
// bookkeeping by ipam; this package decides the order, and when a step
// fails it takes back every step already made.
//
// An attach, in order (attach.go):
//
//  1. plan.go: the names (host veth ck-ID, namespace /run/netns/ck-ID),
//     the ports, which namespace and which network, all checked before
//     anything is made.
//  2. reserve.go, under the address store's lock (package ipam): the network
//     (the default one made on first use, a lost bridge made again), an
//     address, the published ports checked against every other container's.
//     Only the state file changes here; the kernel work follows without the
//     lock, so fifty attaches at once wait for each other only briefly.
//  3. records.go: a record of every resource the next step makes, in the
//     document and in STATE/ID/resources.json, each undone by
//     `net-bridge detach ID`; written first, so a net-bridge killed
//     half-way leaves a record whose undo removes what it got to (Detach
//     skips whatever is not there).
//  4. connect.go, the kernel: the namespace, the veth pair or macvlan, lo,
//     the address and default route, the published-port rules. Each step
//     pushes its undo on a stack (undo.go) that runs, newest first, when a
//     later step fails, so a failed attach leaves nothing half-made.
//  5. files.go: resolv.conf, hosts and hostname for the container in
//     STATE/ID/.
//
// An overlay network (overlay.go, with the design at length) is a bridge
// per host joined to the other hosts' by a VXLAN device; CreateOverlay and
// the Peer functions make it, and attach treats it as a bridge without a
// gateway, NAT or published ports.
//
// A Manager never prints: kernel steps go to its explain log, and what the
// user should know (forwarding was turned on) to its Notice function.
package network

import (
	"path/filepath"

	"ctrkit/internal/explain"
	"ctrkit/net-bridge/ipam"
)

// DefaultBridge is the bridge of the default network.
const DefaultBridge = "ctrkit0"

// Manager makes and removes networks and attachments; its state lives
// under State (STATE/net/networks.json, STATE/ID/).
type Manager struct {
	State  string                        // e.g. /run/ctrkit
	Log    *explain.Log                  // each kernel step; nil: silent
	Notice func(format string, a ...any) // what the user should know; nil: dropped
}

func (m *Manager) notice(format string, a ...any) {
	if m.Notice != nil {
		m.Notice(format, a...)
	}
}

// Store is the address store of all networks, STATE/net.
func (m *Manager) Store() *ipam.Store { return ipam.Open(filepath.Join(m.State, "net")) }

// List returns a snapshot of the networks and their containers.
func (m *Manager) List() (map[string]*ipam.Network, error) { return m.Store().Load() }
