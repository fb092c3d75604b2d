package network

import (
	"path/filepath"

	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"
	"ctrkit/net-bridge/netcfg"
)

// Detach disconnects container id: its published-port rules, its veth
// pair, the namespace net-bridge made for it, its files in STATE/ID/ and
// its address. Whatever is gone already is skipped, so Detach also cleans
// up after a crash; found is false when the store did not know id.
//
// Equivalent to: `nft delete rule ip ctrkit CHAIN handle H` for each rule
// commented "ctrkit ID", `ip link del ck-ID; ip netns del ck-ID`.
func (m *Manager) Detach(id string) (found bool, err error) {
	err = m.Store().Update(func(nets map[string]*ipam.Network) error {
		n, ep := ipam.Find(nets, id)
		if ep == nil {
			return nil
		}
		found = true
		// Netfilter only where rules were written: a container without
		// published ports has none, and a kernel without nf_tables must
		// still detach it.
		if len(ep.Ports) > 0 {
			if err := nat.RemovePorts(m.Log, id); err != nil {
				return err
			}
		}
		if ep.HostLink != "" {
			if err := netcfg.DeleteLink(m.Log, ep.HostLink); err != nil {
				return err
			}
		}
		if ep.OwnNetns {
			if err := netcfg.DeleteNetns(m.Log, ep.Netns); err != nil {
				return err
			}
		}
		n.Release(id)
		if !n.Bridged() && len(n.Endpoints) == 0 {
			delete(nets, n.Name)
		}
		return nil
	})
	if err != nil {
		return found, err
	}
	if err := m.forget(id); err != nil {
		return found, err
	}
	if !found {
		// A crash may have left kernel objects without state: try by name.
		if link, nsName, err := names(id); err == nil {
			netcfg.DeleteLink(m.Log, link)
			netcfg.DeleteNetns(m.Log, filepath.Join(netcfg.NetnsDir, nsName))
			nat.RemovePorts(m.Log, id)
		}
		m.Log.Note("container %s was not attached (nothing in %s)", id, m.Store().Dir())
	}
	return found, nil
}
