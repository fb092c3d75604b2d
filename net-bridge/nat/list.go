package nat

import (
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
)

// Rules lists, from the live kernel and for show, the owner of each rule of
// the table, chain by chain in rule order: its comment without "ctrkit "
// ("net ctrkit0", or a container id). No table is a nil map.
//
// Equivalent to: `nft list table ip ctrkit`, keeping each rule's comment.
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
//
// Equivalent to: `nft list chains`, looking for "hook forward … policy drop".
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
