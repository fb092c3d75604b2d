package netcfg

import (
	"fmt"

	"ctrkit/internal/explain"

	"github.com/vishvananda/netlink"
)

// Alias returns the alias of link name (IFLA_IFALIAS, a free text the
// kernel keeps with the link); "" when it has none or there is no link.
//
// Equivalent to: `ip -d link show NAME` (its "alias" line).
func Alias(name string) string {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return ""
	}
	return l.Attrs().Alias
}

// SetAlias gives link name the alias text, unless it has it already.
//
// Equivalent to: `ip link set NAME alias TEXT`.
func SetAlias(log *explain.Log, name, text string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return fmt.Errorf("link %q: %w", name, err)
	}
	if l.Attrs().Alias == text {
		return nil
	}
	log.Step(fmt.Sprintf("RTM_NEWLINK %q IFLA_IFALIAS %q", name, text), fmt.Sprintf("ip link set %s alias %s", name, explain.Quote(text)))
	if err := netlink.LinkSetAlias(l, text); err != nil {
		return fmt.Errorf("set the alias of %q: %w", name, hint(err))
	}
	return nil
}

// Bridges lists the bridges of this network namespace, with their aliases.
//
// Equivalent to: `ip -d link show type bridge`.
func Bridges() (map[string]string, error) {
	links, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	out := map[string]string{}
	for _, l := range links {
		if l.Type() == "bridge" {
			out[l.Attrs().Name] = l.Attrs().Alias
		}
	}
	return out, nil
}
