// Package nettest runs net-bridge's privileged tests in a network namespace
// of their own, so they never touch the host's links, routes, sysctls or
// nftables tables; vishvananda/netlink's own tests work the same way.
//
// A network namespace belongs to a thread, not a process: unshare(2) with
// CLONE_NEWNET moves only the calling thread. So the test goroutine is
// locked to its thread first (runtime.LockOSThread), and every netlink or
// nftables socket it opens, every /proc/sys/net file it reads and every
// command it starts (ip, nft) then lives in the test's namespace. Subtests
// (t.Run) run on goroutines of their own: they are not in it.
//
// When the test ends, the thread goes back to the namespace it came from
// and is unlocked; if it cannot go back, it stays locked, and the Go
// runtime ends the thread with its goroutine instead of reusing it.
//
// Named namespaces that a test makes under /run/netns (netcfg.NewNetns, net-bridge
// attach) are in the host's mount namespace; the tests remove them again.
package nettest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// Netns skips t unless it runs as root, and moves the test's goroutine,
// locked to its thread, into a fresh network namespace with lo up and IPv4
// forwarding off until the test ends.
//
// Equivalent to: `unshare --net sh -c 'ip link set lo up; sysctl -w net.ipv4.ip_forward=0; TEST'`.
func Netns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for a network namespace of its own: run it as root (sudo make unit)")
	}
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open this thread's network namespace: %v", err)
	}
	ns, err := netns.New()
	if err != nil {
		orig.Close()
		runtime.UnlockOSThread()
		t.Fatalf("unshare(CLONE_NEWNET): %v", err)
	}
	t.Cleanup(func() {
		ns.Close()
		if err := netns.Set(orig); err != nil {
			orig.Close()
			t.Errorf("setns back to the test's first network namespace: %v (the thread ends with the test)", err)
			return
		}
		orig.Close()
		runtime.UnlockOSThread()
	})
	lo, err := netlink.LinkByName("lo")
	if err == nil {
		err = netlink.LinkSetUp(lo)
	}
	if err != nil {
		t.Fatalf("ip link set lo up: %v", err)
	}
	// A new namespace copies the host's IPv4 settings (sysctl
	// net.core.devconf_inherit_init_net = 0): start from the kernel's
	// default instead, whatever the host has.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0"), 0o644); err != nil {
		t.Fatalf("sysctl -w net.ipv4.ip_forward=0 in the test's namespace: %v", err)
	}
}

// Name is a fresh name prefix+8 hex digits, for links and namespaces a test
// makes (keep prefix at most 7 bytes for an interface name).
func Name(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Run runs a command (ip, nft: tools nobody here wrote, to cross-check) in
// the test's namespace and returns its output; a failure fails the test.
func Run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
