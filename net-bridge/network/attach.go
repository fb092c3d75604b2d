package network

import (
	"fmt"
	"net"
	"path/filepath"

	"ctrkit/internal/spec"
	"ctrkit/net-bridge/ipam"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Attached is what an attach made: the container's address (nil with
// --network none) and the namespace it joins ("" with --network host).
type Attached struct {
	ID    string
	IP    net.IP
	Netns string
}

// Attach connects the container of doc (a runtime spec; its ctrkit.id, or
// o.ID, names it) as o says, and puts the result into doc: the network
// namespace to join, bind mounts of resolv.conf, hosts and hostname when
// doc has a root filesystem, and the record of every resource made. The
// steps and their order are in the package doc; when one fails, the steps
// already made are taken back.
//
// Equivalent to, for a bridge network: `ip netns add ck-ID; ip link add
// ck-ID master BRIDGE type veth peer name eth0 netns ck-ID; ip link set
// ck-ID up; ip -n ck-ID link set lo up; ip -n ck-ID addr add ADDR dev eth0;
// ip -n ck-ID link set eth0 up; ip -n ck-ID route add default via GW`, and
// per published port the rules of nat.AddPorts.
func (m *Manager) Attach(doc *specs.Spec, o Options) (a *Attached, err error) {
	if o.Network == "" {
		o.Network = ipam.Bridge
	}
	switch o.Network {
	case ipam.Bridge, ipam.Macvlan, "none", "host":
	default: // a network by name, as docker run --network NAME
		o.Name, o.Network = o.Network, ipam.Bridge
	}
	if o.Name == "" {
		o.Name = DefaultBridge
	}
	if o.ID != "" {
		if doc.Annotations == nil {
			doc.Annotations = map[string]string{}
		}
		doc.Annotations[spec.IDAnnotation] = o.ID
	}
	id := spec.ID(doc)
	if o.Network == "host" {
		if len(o.Publish) > 0 {
			return nil, fmt.Errorf("--network host: nothing to publish, the container's ports are the host's")
		}
		m.Log.Note("--network host: no namespace of its own, the container sees the host's interfaces")
		setNetns(doc, "")
		return &Attached{ID: id}, nil
	}

	// 1. The plan, then under the lock the network, an address, the ports.
	p, err := newPlan(id, o)
	if err != nil {
		return nil, err
	}
	if err := checkPorts(m.Log, p.ports); err != nil {
		return nil, err
	}
	n, ip, err := m.reserve(p, o)
	if err != nil {
		return nil, err
	}

	// 2. The record of what the kernel steps will make, before they make
	// it: a net-bridge killed half-way leaves a record whose undo
	// (net-bridge detach ID) removes whatever it got to.
	var u undo
	u.push(func() { m.release(p.netName, id) })
	defer func() {
		if err != nil {
			u.run()
		}
	}()
	u.push(func() { m.forget(id) })
	if err = m.record(doc, p, n, ip); err != nil {
		return nil, err
	}

	// 3. The kernel, with every step's undo on a stack.
	if err = m.connect(p, n, ip, &u); err != nil {
		return nil, err
	}

	// 4. The container's files.
	hostname := doc.Hostname
	if hostname == "" {
		hostname = id
	}
	files, err := m.writeFiles(id, hostname, ip)
	if err != nil {
		return nil, err
	}

	setNetns(doc, p.nsPath)
	if doc.Root != nil && doc.Root.Path != "" {
		for _, f := range files {
			doc.Mounts = append(doc.Mounts, specs.Mount{Destination: "/etc/" + filepath.Base(f), Type: "bind", Source: f, Options: []string{"rbind", "ro"}})
		}
	}
	return &Attached{ID: id, IP: ip, Netns: p.nsPath}, nil
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
