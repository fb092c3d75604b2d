package network

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"ctrkit/internal/spec"
)

// ctrFiles are the files a container gets from net-bridge, in STATE/ID/,
// bind-mounted on /etc/NAME when the document has a root filesystem.
var ctrFiles = []string{"resolv.conf", "hosts", "hostname"}

// writeFiles writes STATE/ID/{resolv.conf,hosts,hostname} and returns
// their paths.
func (m *Manager) writeFiles(id, hostname string, ip net.IP) ([]string, error) {
	dir := filepath.Join(m.State, id)
	if err := spec.EnsureState(m.State); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	host, _ := os.ReadFile("/etc/resolv.conf")
	resolv, servers := resolvConf(string(host))
	if servers == 0 {
		m.Log.Note("the host's resolv.conf has no name server a container can reach: the container's has none")
	}
	content := map[string]string{"resolv.conf": resolv, "hosts": hosts(hostname, ip), "hostname": hostname + "\n"}
	var out []string
	for _, name := range ctrFiles {
		path := filepath.Join(dir, name)
		m.Log.File(fmt.Sprintf("write(%q)", path), path, []byte(content[name]))
		if err := os.WriteFile(path, []byte(content[name]), 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		out = append(out, path)
	}
	return out, nil
}

// resolvConf is the container's resolv.conf made from the host's: its
// lines without empty ones and without loopback name servers (127.0.0.53 of
// systemd-resolved is the host's own loopback, unreachable from the
// container). servers counts the name servers left; Docker falls back to
// 8.8.8.8 when none is, ctrkit leaves the list empty and says so.
func resolvConf(host string) (conf string, servers int) {
	var b strings.Builder
	for _, line := range strings.Split(host, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a := net.ParseIP(f[1]); a == nil || a.IsLoopback() {
				continue
			}
			servers++
		}
		if len(f) > 0 {
			b.WriteString(line + "\n")
		}
	}
	return b.String(), servers
}

// hosts is the container's /etc/hosts: localhost, and its own name at ip
// (nil: no address, --network none).
func hosts(hostname string, ip net.IP) string {
	s := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	if ip != nil {
		s += ip.String() + "\t" + hostname + "\n"
	}
	return s
}
