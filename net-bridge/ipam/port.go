package ipam

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ParsePort reads a port to publish, docker's -p syntax:
//
//	[HOSTIP:]HOSTPORT:CTRPORT[/tcp|/udp]
//
// for example "8080:80", "127.0.0.1:8080:80/tcp", "5353:53/udp".
func ParsePort(s string) (Port, error) {
	bad := func(format string, args ...any) (Port, error) {
		return Port{}, fmt.Errorf("port %q: %s (want [HOSTIP:]HOSTPORT:CTRPORT[/tcp|udp], e.g. 8080:80)", s, fmt.Sprintf(format, args...))
	}
	spec, proto, hasProto := strings.Cut(s, "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" {
		return bad("protocol %q is neither tcp nor udp", proto)
	}
	parts := strings.Split(spec, ":")
	var p Port
	p.Proto = proto
	switch len(parts) {
	case 2:
	case 3:
		ip := net.ParseIP(parts[0])
		if ip == nil || ip.To4() == nil {
			return bad("host address %q is not an IPv4 address", parts[0])
		}
		p.HostIP = ip.String()
		parts = parts[1:]
	default:
		return bad("expected 2 or 3 fields separated by ':', got %d", len(parts))
	}
	var err error
	if p.HostPort, err = portNumber(parts[0]); err != nil {
		return bad("host port: %v", err)
	}
	if p.CtrPort, err = portNumber(parts[1]); err != nil {
		return bad("container port: %v", err)
	}
	return p, nil
}

func portNumber(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%q is not a port number 1-65535", s)
	}
	return uint16(n), nil
}
