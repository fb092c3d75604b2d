// Package nat writes ctrkit's nftables rules, through netlink
// (github.com/google/nftables), in a table of its own:
//
//	table ip ctrkit {
//	  chain prerouting  { type nat hook prerouting priority dstnat; }   # published ports, from outside
//	  chain output      { type nat hook output priority -100; }         # published ports, from the host itself
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
	"errors"
	"fmt"
	"net"

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
	// nft's name dstnat (-100) is valid on the prerouting hook only: for
	// output, nft wants (and lists) the number.
	{"output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest, "output", "-100"},
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
//
// Equivalent to (each rule with comment "ctrkit net NAME"):
//
//	nft add table ip ctrkit   # and its four chains, see the package doc
//	nft add rule ip ctrkit postrouting ip saddr SUBNET oifname != BRIDGE masquerade
//	nft add rule ip ctrkit postrouting oifname BRIDGE ip saddr 127.0.0.0/8 masquerade
//	nft add rule ip ctrkit forward iifname BRIDGE accept
//	nft add rule ip ctrkit forward oifname BRIDGE ct state established,related accept
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
//
// Equivalent to: `nft delete rule ip ctrkit CHAIN handle H` for each rule
// commented "ctrkit net NAME", then `nft delete table ip ctrkit` if it is empty.
func RemoveNetwork(log *explain.Log, name string) error {
	return remove(log, "net "+name)
}

// AddPorts publishes ports of the container ip (owner: its id) on bridge.
//
// Equivalent to, for -p [HOSTIP:]HOSTPORT:CTRPORT/PROTO (comment "ctrkit OWNER"):
//
//	nft add rule ip ctrkit prerouting [ip daddr HOSTIP] fib daddr type local PROTO dport HOSTPORT dnat to IP:CTRPORT
//	nft add rule ip ctrkit output     [ip daddr HOSTIP] fib daddr type local PROTO dport HOSTPORT dnat to IP:CTRPORT
//	nft add rule ip ctrkit forward oifname BRIDGE ip daddr IP PROTO dport CTRPORT ct status dnat accept
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
//
// Equivalent to: `nft delete rule ip ctrkit CHAIN handle H` for each rule
// commented "ctrkit ID", then `nft delete table ip ctrkit` if it is empty.
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
