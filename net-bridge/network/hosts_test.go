package network

import (
	"strings"
	"testing"

	"ctrkit/net-bridge/ipam"
)

func TestMark(t *testing.T) {
	m := &Manager{State: "/run/ctrkit test"}
	alias := m.mark(&ipam.Network{Name: "ctrkit0"})
	name, state, ok := parseMark(alias)
	if !ok || name != "ctrkit0" || state != "/run/ctrkit test" {
		t.Errorf("parseMark(%q) = %q, %q, %v", alias, name, state, ok)
	}
	for _, other := range []string{"", "docker0", "ctrkit network"} {
		if _, _, ok := parseMark(other); ok {
			t.Errorf("parseMark(%q) says ctrkit made it", other)
		}
	}
}

// TestCheckPortsTwice: the same host port twice in one run is refused
// before any socket is opened; the same number over tcp and udp is not.
func TestCheckPortsTwice(t *testing.T) {
	parse := func(specs ...string) []ipam.Port {
		var out []ipam.Port
		for _, s := range specs {
			p, err := ipam.ParsePort(s)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	for _, twice := range [][]string{{"8080:80", "8080:81"}, {"127.0.0.1:8080:80", "8080:80"}, {"53:53/udp", "0.0.0.0:53:54/udp"}} {
		err := checkPorts(nil, parse(twice...))
		if err == nil || !strings.Contains(err.Error(), "published twice") {
			t.Errorf("checkPorts(%q) = %v, want published twice", twice, err)
		}
	}
}
