// Package nat writes ctrkit's nftables rules, through netlink
// (github.com/google/nftables), in a table of its own:
//
//	table ip ctrkit {
//	  chain prerouting  { type nat hook prerouting priority dstnat; }   # published ports, from outside
//	  chain output      { type nat hook output priority dstnat; }       # published ports, from the host itself
//	  chain postrouting { type nat hook postrouting priority srcnat; }  # masquerade
//	  chain forward     { type filter hook forward priority filter; }   # let bridge traffic through
//	}
//
// `nft list table ip ctrkit` shows it. Every rule carries a comment naming
// who owns it ("ctrkit net ctrkit0" for a network, "ctrkit ID" for one
// container's published ports), and removing an owner deletes exactly its
// rules by their handles. Each change is one netlink batch, which the
// kernel applies as a transaction: all of it or none.
//
// Published ports and the host itself. A packet that a host process sends
// to 127.0.0.1:8080 passes the output hook, not prerouting, so the DNAT rule
// is in both chains (with `fib daddr type local`: "addressed to this
// host"). After DNAT its destination is a container but its source is still
// 127.0.0.1, and Linux refuses to route a loopback source out of a real
// interface, unless the sysctl net.ipv4.conf.BRIDGE.route_localnet is 1; and
// the container could not answer 127.0.0.1 anyway, so postrouting
// masquerades loopback sources leaving by the bridge. Docker does the same
// when its userland proxy is off; with the proxy on, a docker-proxy process
// per port accepts the connection and opens a new one to the container,
// which costs a process and hides the client's address.
package nat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/net-bridge/ipam"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Table is the name of ctrkit's nftables table (family ip).
const Table = "ctrkit"

var table = &nftables.Table{Name: Table, Family: nftables.TableFamilyIPv4}

type chainDef struct {
	name     string
	typ      nftables.ChainType
	hook     *nftables.ChainHook
	prio     *nftables.ChainPriority
	hookName string
	prioName string
}

var chains = []chainDef{
	{"prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest, "prerouting", "dstnat"},
	{"output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest, "output", "dstnat"},
	{"postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource, "postrouting", "srcnat"},
	{"forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter, "forward", "filter"},
}

func chain(name string) *nftables.Chain { return &nftables.Chain{Name: name, Table: table} }

// rule is one rule with the nft command that writes the same.
type rule struct {
	chain string
	text  string // nft syntax, without the comment
	exprs []expr.Any
}

// batch collects changes and applies them at once.
type batch struct {
	log *explain.Log
	c   *nftables.Conn
}

func open(log *explain.Log) (*batch, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables netlink socket: %w", err)
	}
	return &batch{log: log, c: c}, nil
}

func (b *batch) ensureTable() {
	b.log.Step(fmt.Sprintf("NFT_MSG_NEWTABLE ip %q", Table), "nft add table ip "+Table)
	b.c.AddTable(table)
	for _, d := range chains {
		policy := nftables.ChainPolicyAccept
		b.log.Step(fmt.Sprintf("NFT_MSG_NEWCHAIN ip %s %s", Table, d.name),
			fmt.Sprintf("nft add chain ip %s %s '{ type %s hook %s priority %s; }'", Table, d.name, d.typ, d.hookName, d.prioName))
		b.c.AddChain(&nftables.Chain{Name: d.name, Table: table, Type: d.typ, Hooknum: d.hook, Priority: d.prio, Policy: &policy})
	}
}

func (b *batch) add(owner string, r rule) {
	comment := "ctrkit " + owner
	b.log.Step(fmt.Sprintf("NFT_MSG_NEWRULE ip %s %s", Table, r.chain),
		fmt.Sprintf("nft add rule ip %s %s %s comment %s", Table, r.chain, r.text, explain.Quote(`"`+comment+`"`)))
	b.c.AddRule(&nftables.Rule{Table: table, Chain: chain(r.chain), Exprs: r.exprs,
		UserData: userdata.AppendString(nil, userdata.TypeComment, comment)})
}

func (b *batch) flush(what string) error {
	if err := b.c.Flush(); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("%s: %w (needs root: CAP_NET_ADMIN)", what, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// AddNetwork writes the rules of a bridge network: masquerade what leaves
// the subnet by another interface, masquerade loopback sources entering the
// bridge (published ports reached from the host), and accept forwarded
// traffic from the bridge and replies to it.
func AddNetwork(log *explain.Log, name, bridge string, subnet *net.IPNet) error {
	b, err := open(log)
	if err != nil {
		return err
	}
	b.ensureTable()
	_, loop, _ := net.ParseCIDR("127.0.0.0/8")
	owner := "net " + name
	b.add(owner, rule{"postrouting", fmt.Sprintf("ip saddr %s oifname != %q masquerade", subnet, bridge),
		cat(saddrIn(subnet), ifname(expr.MetaKeyOIFNAME, expr.CmpOpNeq, bridge), []expr.Any{&expr.Masq{}})})
	b.add(owner, rule{"postrouting", fmt.Sprintf("oifname %q ip saddr %s masquerade", bridge, loop),
		cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, bridge), saddrIn(loop), []expr.Any{&expr.Masq{}})})
	b.add(owner, rule{"forward", fmt.Sprintf("iifname %q accept", bridge),
		cat(ifname(expr.MetaKeyIIFNAME, expr.CmpOpEq, bridge), accept())})
	b.add(owner, rule{"forward", fmt.Sprintf("oifname %q ct state established,related accept", bridge),
		cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, bridge), ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED), accept())})
	return b.flush(fmt.Sprintf("add nftables rules of network %q", name))
}

// RemoveNetwork deletes the network's rules, and the whole table when no
// rule is left in it.
func RemoveNetwork(log *explain.Log, name string) error {
	return remove(log, "net "+name)
}

// AddPorts publishes ports of the container ip (owner: its id) on bridge.
func AddPorts(log *explain.Log, owner, bridge string, ip net.IP, ports []ipam.Port) error {
	if len(ports) == 0 {
		return nil
	}
	b, err := open(log)
	if err != nil {
		return err
	}
	b.ensureTable()
	for _, p := range ports {
		proto := byte(unix.IPPROTO_TCP)
		if p.Proto == "udp" {
			proto = unix.IPPROTO_UDP
		}
		match := cat(fibLocal(), l4(proto), dport(p.HostPort))
		text := fmt.Sprintf("fib daddr type local %s dport %d", p.Proto, p.HostPort)
		if p.HostIP != "" {
			hip := net.ParseIP(p.HostIP)
			match = cat(daddrIs(hip), match)
			text = fmt.Sprintf("ip daddr %s ", hip) + text
		}
		to := fmt.Sprintf("%s:%d", ip, p.CtrPort)
		for _, c := range []string{"prerouting", "output"} {
			b.add(owner, rule{c, text + " dnat to " + to, cat(match, dnat(ip, p.CtrPort))})
		}
		b.add(owner, rule{"forward", fmt.Sprintf("oifname %q ip daddr %s %s dport %d ct status dnat accept", bridge, ip, p.Proto, p.CtrPort),
			cat(ifname(expr.MetaKeyOIFNAME, expr.CmpOpEq, bridge), daddrIs(ip), l4(proto), dport(p.CtrPort),
				ctBits(expr.CtKeySTATUS, 0x20 /* IPS_DST_NAT */), accept())})
	}
	return b.flush(fmt.Sprintf("publish ports of %s", owner))
}

// RemovePorts deletes the published-port rules of container id.
func RemovePorts(log *explain.Log, id string) error { return remove(log, id) }

// remove deletes every rule whose comment is "ctrkit OWNER", and the table
// when it is left empty.
func remove(log *explain.Log, owner string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables netlink socket: %w", err)
	}
	if _, err := c.ListTableOfFamily(Table, nftables.TableFamilyIPv4); err != nil {
		return nil // no table, no rules
	}
	comment := "ctrkit " + owner
	left := 0
	for _, d := range chains {
		rules, err := c.GetRules(table, chain(d.name))
		if err != nil {
			continue
		}
		for _, r := range rules {
			if got, _ := userdata.GetString(r.UserData, userdata.TypeComment); got != comment {
				left++
				continue
			}
			log.Step(fmt.Sprintf("NFT_MSG_DELRULE ip %s %s handle %d", Table, d.name, r.Handle),
				fmt.Sprintf("nft delete rule ip %s %s handle %d", Table, d.name, r.Handle))
			if err := c.DelRule(r); err != nil {
				return err
			}
		}
	}
	if left == 0 {
		log.Step(fmt.Sprintf("NFT_MSG_DELTABLE ip %q", Table), "nft delete table ip "+Table)
		c.DelTable(table)
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("remove nftables rules of %q: %w", owner, err)
	}
	return nil
}

// Rules lists the rules of the table with their comments, for show: one
// "CHAIN COMMENT" line per rule, from the live kernel.
func Rules() (map[string][]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	if _, err := c.ListTableOfFamily(Table, nftables.TableFamilyIPv4); err != nil {
		return nil, nil
	}
	out := map[string][]string{}
	for _, d := range chains {
		rules, err := c.GetRules(table, chain(d.name))
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			got, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			out[d.name] = append(out[d.name], strings.TrimPrefix(got, "ctrkit "))
		}
	}
	return out, nil
}

// ForwardPolicies reports the policy of every forward-hook base chain of
// other tables that drops by default (iptables' FORWARD DROP, for example):
// an accept in our table does not override a drop in another.
func ForwardPolicies() ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	all, err := c.ListChains()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ch := range all {
		if ch.Hooknum == nil || *ch.Hooknum != *nftables.ChainHookForward || ch.Table.Name == Table {
			continue
		}
		if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
			out = append(out, fmt.Sprintf("table %s chain %s policy drop", ch.Table.Name, ch.Name))
		}
	}
	return out, nil
}

// --- expressions: each helper is a few nft words ---

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ifname: iifname/oifname ==/!= NAME (names compare as 16 bytes, NUL-padded).
func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

// saddrIn: ip saddr SUBNET (the source address, 4 bytes at offset 12 of the IPv4 header, masked).
func saddrIn(subnet *net.IPNet) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: []byte(subnet.Mask), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: subnet.IP.To4()},
	}
}

// daddrIs: ip daddr IP (offset 16 of the IPv4 header).
func daddrIs(ip net.IP) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 16, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ip.To4()},
	}
}

// fibLocal: fib daddr type local (the destination is one of this host's addresses).
func fibLocal() []expr.Any {
	return []expr.Any{
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, unix.RTN_LOCAL)},
	}
}

// l4: meta l4proto tcp|udp.
func l4(proto byte) []expr.Any {
	return []expr.Any{&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}}}
}

// dport: th dport PORT (2 bytes at offset 2 of the TCP and UDP headers).
func dport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)},
	}
}

// ctBits: ct state/status has any of bits.
func ctBits(key expr.CtKey, bits uint32) []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binary.NativeEndian.AppendUint32(nil, bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}

// dnat: dnat to IP:PORT.
func dnat(ip net.IP, port uint16) []expr.Any {
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: ip.To4()},
		&expr.Immediate{Register: 2, Data: binary.BigEndian.AppendUint16(nil, port)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	}
}

func accept() []expr.Any { return []expr.Any{&expr.Verdict{Kind: expr.VerdictAccept}} }
