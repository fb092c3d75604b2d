package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"

	"ctrkit/internal/fsutil"
	"ctrkit/internal/spec"
	"ctrkit/net-bridge/ipam"
	"ctrkit/net-bridge/nat"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

const stage = "net-bridge"

// record adds what an attach made to the document and to
// STATE/ID/resources.json (spec.Record), each undone by
// `net-bridge detach ID`.
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
// STATE/ID/resources.json, and the directory when nothing else is left.
//
// It takes the lock internal/spec takes for the list, STATE/ID/.lock, and
// rewrites the list atomically (fsutil.WriteFile). internal/spec has no
// function that removes entries (issue 18 gives the state directory one
// owner); until then this is net-bridge's. The lock file goes only while
// held and when it is the last file in the directory: fsutil.Lock, which
// spec.Record takes too, notices that and locks a new file.
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
	lock, err := fsutil.Lock(dir, ".lock")
	if err != nil {
		return err
	}
	defer lock.Close()
	rs, err := spec.StateResources(m.State, id)
	if err != nil {
		return err
	}
	var keep []spec.Resource
	for _, r := range rs {
		if r.Stage != stage {
			keep = append(keep, r)
		}
	}
	res := filepath.Join(dir, "resources.json")
	if len(keep) > 0 {
		data, err := json.MarshalIndent(keep, "", "  ")
		if err != nil {
			return err
		}
		return fsutil.WriteFile(res, append(data, '\n'), 0o600)
	}
	if err := os.Remove(res); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 1 && entries[0].Name() == ".lock" {
		os.Remove(filepath.Join(dir, ".lock")) // held by us: see fsutil.Lock
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}
