package network

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"ctrkit/internal/spec"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const stage = "net-bridge"

// record adds what an attach makes to the document and to
// STATE/ID/resources.json (spec.Record), each undone by
// `net-bridge detach ID`, before connect makes it.
func (m *Manager) record(doc *specs.Spec, p *plan, n *ipam.Network, ip net.IP) error {
	detach := []string{"net-bridge", "detach", p.id}
	var rs []spec.Resource
	if p.ownNetns {
		rs = append(rs, spec.Resource{Stage: stage, Kind: "netns", Name: p.nsPath, Undo: detach})
	}
	if n.Bridged() {
		rs = append(rs, spec.Resource{Stage: stage, Kind: "link", Name: p.link, Undo: detach})
	}
	if n.Driver != "none" {
		rs = append(rs, spec.Resource{Stage: stage, Kind: "address", Name: ip.String() + " in " + n.Name, Undo: detach})
	}
	for _, port := range p.ports {
		rs = append(rs, spec.Resource{Stage: stage, Kind: "nft-rule", Name: fmt.Sprintf("table ip %s: %s -> %s:%d", nat.Table, port, ip, port.CtrPort), Undo: detach})
	}
	for _, r := range rs {
		if err := spec.Record(doc, m.State, r); err != nil {
			return err
		}
	}
	return nil
}

// forget removes what writeFiles wrote and net-bridge's entries in
// STATE/ID/resources.json (spec.ForgetStage, the list's one owner), and the
// directory when nothing else is left.
func (m *Manager) forget(id string) error {
	dir := filepath.Join(m.State, id)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for _, name := range ctrFiles {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return spec.ForgetStage(m.State, id, stage)
}
