package network

import (
	"errors"
	"fmt"
	"net"

	"ctrkit/internal/explain"
	"ctrkit/net-bridge/ipam"

	"golang.org/x/sys/unix"
)

// checkPorts refuses, before anything is made, a published port the host
// cannot give: one given twice in the same run, one whose host address is
// not an address of this host, and one a host process is bound to already.
//
// A published port is a DNAT rule, not a socket: nothing stops a rule for
// port 8080 from being written while a host service listens on 8080, and
// then the rule silently steals that service's traffic. Docker refuses
// ("port is already allocated", "address already in use") because its
// docker-proxy binds every published port. net-bridge asks the kernel the
// same question without keeping a socket: it binds HOSTIP:HOSTPORT (every
// address when no HOSTIP is given) and closes the socket at once. The
// kernel answers EADDRINUSE when a process is bound there (on that address
// or on all of them), and EADDRNOTAVAIL when the address is not the host's.
// A TCP probe sets SO_REUSEADDR, as servers do, so connections of the past
// (TIME_WAIT) and outgoing connections do not count; only a listener does.
// Ports other containers published are checked in the store (portsFree).
//
// Equivalent to: `ss -Hlnt 'sport = :HOSTPORT'` (-u for udp) printing
// nothing, and `ip -4 addr` listing HOSTIP.
func checkPorts(log *explain.Log, ports []ipam.Port) error {
	for i, p := range ports {
		for _, q := range ports[:i] {
			if p.Conflicts(q) {
				return fmt.Errorf("port %s: host port %d/%s is published twice (-p %s and -p %s): publish each host port once", p, p.HostPort, p.Proto, q, p)
			}
		}
	}
	for _, p := range ports {
		if err := probe(log, p); err != nil {
			return err
		}
	}
	return nil
}

// probe binds p's host address and port, and closes the socket.
func probe(log *explain.Log, p ipam.Port) error {
	typ, ssFlag := unix.SOCK_STREAM, "t"
	if p.Proto == "udp" {
		typ, ssFlag = unix.SOCK_DGRAM, "u"
	}
	addr := &unix.SockaddrInet4{Port: int(p.HostPort)}
	host := "0.0.0.0"
	if p.HostIP != "" {
		copy(addr.Addr[:], net.ParseIP(p.HostIP).To4())
		host = p.HostIP
	}
	log.Step(fmt.Sprintf("socket(AF_INET, %s); bind(%s:%d); close()", map[int]string{unix.SOCK_STREAM: "SOCK_STREAM", unix.SOCK_DGRAM: "SOCK_DGRAM"}[typ], host, p.HostPort),
		fmt.Sprintf("ss -Hln%s 'sport = :%d'", ssFlag, p.HostPort))
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("port %s: socket: %w", p, err)
	}
	defer unix.Close(fd)
	if typ == unix.SOCK_STREAM {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fmt.Errorf("port %s: SO_REUSEADDR: %w", p, err)
		}
	}
	switch err := unix.Bind(fd, addr); {
	case err == nil:
		return nil
	case errors.Is(err, unix.EADDRINUSE):
		return fmt.Errorf("port %s: %s:%d/%s is already in use on the host (bind: %w): a host service listens there (ss -lnp%s 'sport = :%d' names it); stop it or choose another host port",
			p, host, p.HostPort, p.Proto, err, ssFlag, p.HostPort)
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return fmt.Errorf("port %s: host address %s is not an address of this host (bind: %w): give one that `ip -4 addr` lists, or none for all of them",
			p, p.HostIP, err)
	case errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM):
		return fmt.Errorf("port %s: bind %s:%d: %w (publishing ports needs root)", p, host, p.HostPort, err)
	default:
		return fmt.Errorf("port %s: bind %s:%d: %w", p, host, p.HostPort, err)
	}
}
