package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ctrkit/internal/cli"
	"ctrkit/net-bridge/internal/nettest"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// netBridge runs the command as `net-bridge --state STATE ARGS…` with
// stdin (nil: /dev/null, no document) and returns what it wrote.
func netBridge(t *testing.T, state string, stdin *os.File, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	if stdin == nil {
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		stdin = f
	}
	var o, e bytes.Buffer
	err = run(append([]string{"--state", state}, args...), stdin, &o, &e)
	return o.String(), e.String(), err
}

// document is a file holding doc, open for reading: a piped stdin.
func document(t *testing.T, doc *specs.Spec) *os.File {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.json")
	data, _ := json.Marshal(doc)
	os.WriteFile(path, data, 0o600)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRunUsage(t *testing.T) {
	state := t.TempDir()
	stdout, _, err := netBridge(t, state, nil, "--help")
	if err != nil || !strings.Contains(stdout, "Usage: net-bridge <command>") {
		t.Errorf("net-bridge --help = %v, %q, want exit 0 and the usage", err, stdout)
	}
	stdout, stderr, err := netBridge(t, state, nil, "bogus")
	var e *cli.ExitError
	if !errors.As(err, &e) || e.Code != 80 || !strings.Contains(stderr, "net-bridge: error: unexpected argument bogus") || !strings.Contains(stdout, "Usage:") {
		t.Errorf("net-bridge bogus = %v, %q, %q, want exit 80 (kong's usage error) with the usage", err, stdout, stderr)
	}
	if _, _, err := netBridge(t, state, nil, "attach", "-p", "80"); err == nil || !strings.Contains(err.Error(), "want [HOSTIP:]HOSTPORT:CTRPORT") {
		t.Errorf("net-bridge attach -p 80 = %v, want the -p syntax", err)
	}
	// --network takes a network's name too, as docker run's does.
	if _, _, err := netBridge(t, state, nil, "attach", "--network", "wifi"); err == nil || !strings.Contains(err.Error(), `no network "wifi": create it first`) {
		t.Errorf("net-bridge attach --network wifi = %v, want: no network, create it first", err)
	}
	if _, _, err := netBridge(t, state, nil, "attach", "--netns", "/x", "--pid", "1"); err == nil {
		t.Errorf("net-bridge attach --netns --pid = nil, want: they exclude each other")
	}
}

func TestRunWithoutNetworks(t *testing.T) {
	state := t.TempDir()
	if stdout, _, err := netBridge(t, state, nil, "ls"); err != nil || stdout != "ID  NETWORK  ADDRESS  PORTS  NETNS\n" {
		t.Errorf("net-bridge ls = %q, %v, want the header only", stdout, err)
	}
	if stdout, _, err := netBridge(t, state, nil, "show"); err != nil || stdout != "no ctrkit networks (net-bridge create makes one)\n" {
		t.Errorf("net-bridge show = %q, %v", stdout, err)
	}
	if _, _, err := netBridge(t, state, nil, "rm", "--name", "nope"); err == nil || !strings.Contains(err.Error(), `no network "nope"`) {
		t.Errorf("net-bridge rm --name nope = %v, want no network", err)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 {
		t.Errorf("STATE after ls, show and a failed rm holds %d entries, want none", len(ents))
	}
}

// TestRunHost: --network host makes nothing, so it needs no root.
func TestRunHost(t *testing.T) {
	state := t.TempDir()
	if stdout, _, err := netBridge(t, state, nil, "attach", "--id", "h1", "--network", "host"); err != nil || stdout != "h1 host\n" {
		t.Errorf("net-bridge attach --network host = %q, %v, want \"h1 host\"", stdout, err)
	}
	in := &specs.Spec{Version: specs.Version, Linux: &specs.Linux{Namespaces: []specs.LinuxNamespace{{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}}}}
	stdout, stderr, err := netBridge(t, state, document(t, in), "--explain", "attach", "--network", "host")
	if err != nil {
		t.Fatalf("… | net-bridge attach --network host = %v", err)
	}
	var out specs.Spec
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not the document: %v\n%s", err, stdout)
	}
	if len(out.Linux.Namespaces) != 1 || out.Linux.Namespaces[0].Type != specs.PIDNamespace {
		t.Errorf("document namespaces = %+v, want the pid one only", out.Linux.Namespaces)
	}
	if want := "[net-bridge] # --network host: no namespace of its own"; !strings.HasPrefix(stderr, want) {
		t.Errorf("--explain stderr = %q, want %q", stderr, want)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"ociVersion": 1}`), 0o600)
	f, _ := os.Open(bad)
	defer f.Close()
	if _, _, err := netBridge(t, state, f, "attach", "--network", "host"); err == nil || !strings.HasPrefix(err.Error(), "stdin: ") {
		t.Errorf("net-bridge attach with a broken document = %v, want a stdin error", err)
	}
}

// TestRunPipeline is the chapter's session, in a network namespace of its
// own: create, attach in a pipe and standalone, ls, show, doctor, detach, rm.
func TestRunPipeline(t *testing.T) {
	nettest.Netns(t)
	state := t.TempDir()
	web, db := nettest.Name("gt"), nettest.Name("gt")
	t.Cleanup(func() {
		for _, id := range []string{web, db} {
			netBridge(t, state, nil, "detach", id)
		}
		netBridge(t, state, nil, "rm")
	})

	stdout, stderr, err := netBridge(t, state, nil, "--explain", "create")
	if err != nil || stdout != "ctrkit0 10.213.0.0/24\n" {
		t.Fatalf("net-bridge create = %q, %v, want ctrkit0 10.213.0.0/24", stdout, err)
	}
	for _, want := range []string{ // as docs/05-network.md shows them
		"[net-bridge] RTM_NEWLINK bridge \"ctrkit0\"  $ ip link add ctrkit0 type bridge\n",
		"[net-bridge] RTM_NEWADDR 10.213.0.1/24 dev \"ctrkit0\"  $ ip addr add 10.213.0.1/24 dev ctrkit0\n",
		"[net-bridge] write(\"/proc/sys/net/ipv4/ip_forward\", \"1\")  $ sysctl -w net.ipv4.ip_forward=1\n",
		"net-bridge: IPv4 forwarding was off in this network namespace: turned it on",
		"[net-bridge] NFT_MSG_NEWRULE ip ctrkit postrouting  $ nft add rule ip ctrkit postrouting ip saddr 10.213.0.0/24 oifname != \"ctrkit0\" masquerade comment '\"ctrkit net ctrkit0\"'\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("net-bridge --explain create: stderr lacks %q:\n%s", want, stderr)
		}
	}

	in := &specs.Spec{Version: specs.Version, Root: &specs.Root{Path: "rootfs"}, Process: &specs.Process{Args: []string{"httpd"}}}
	stdout, _, err = netBridge(t, state, document(t, in), "attach", "--id", web, "-p", "8080:80")
	if err != nil {
		t.Fatalf("… | net-bridge attach --id %s -p 8080:80 = %v", web, err)
	}
	var out specs.Spec
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("stdout is not the document: %v\n%s", err, stdout)
	}
	if ns := out.Linux.Namespaces; len(ns) != 1 || ns[0].Type != specs.NetworkNamespace || ns[0].Path != "/run/netns/ck-"+web {
		t.Errorf("document namespaces = %+v, want network at /run/netns/ck-%s", ns, web)
	}
	if len(out.Mounts) != 3 || out.Mounts[0].Source != filepath.Join(state, web, "resolv.conf") || out.Mounts[0].Destination != "/etc/resolv.conf" {
		t.Errorf("document mounts = %+v, want STATE/ID/{resolv.conf,hosts,hostname} on /etc", out.Mounts)
	}
	if out.Annotations["ctrkit.id"] != web || !strings.Contains(out.Annotations["ctrkit.resources"], `"kind":"nft-rule"`) {
		t.Errorf("document annotations = %v, want the id and the resources", out.Annotations)
	}
	if stdout, _, err = netBridge(t, state, nil, "attach", "--id", db); err != nil || stdout != db+" 10.213.0.3 /run/netns/ck-"+db+"\n" {
		t.Errorf("net-bridge attach --id %s = %q, %v, want \"%s 10.213.0.3 /run/netns/ck-%s\"", db, stdout, err, db, db)
	}
	if _, _, err = netBridge(t, state, nil, "attach", "--id", "gtthree", "-p", "8080:81"); err == nil || !strings.Contains(err.Error(), "port 8080:81/tcp is published already, by container "+web+" (8080:80/tcp): choose another host port") {
		t.Errorf("net-bridge attach -p 8080:81 = %v, want the docs' error", err)
	}

	stdout, _, err = netBridge(t, state, nil, "ls")
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); err != nil || len(lines) != 3 || !strings.Contains(lines[2], "8080:80/tcp") && !strings.Contains(lines[1], "8080:80/tcp") {
		t.Errorf("net-bridge ls = %q, %v, want a header and two containers, one publishing 8080:80/tcp", stdout, err)
	}
	stdout, _, err = netBridge(t, state, nil, "show")
	for _, want := range []string{
		"host (this network namespace)\n└── ctrkit0  bridge up  10.213.0.1/24  (subnet 10.213.0.0/24)\n",
		"veth ck-" + web + " up ══ eth0 10.213.0.2/24  netns ck-" + web + "  (container " + web + ")  -p 8080:80/tcp\n",
		"  prerouting   1 for " + web + "\n",
		"  masquerade   10.213.0.0/24 leaving by any interface but ctrkit0 gets the outgoing interface's address\n",
		"  dnat         *:8080/tcp (also 127.0.0.1) → 10.213.0.2:80  (container " + web + ")\n",
	} {
		if err != nil || !strings.Contains(stdout, want) {
			t.Errorf("net-bridge show = %v, lacks %q:\n%s", err, want, stdout)
		}
	}
	if stdout, _, err = netBridge(t, state, nil, "doctor"); err != nil || !strings.HasPrefix(stdout, "ok   IPv4 forwarding is on (net.ipv4.ip_forward = 1)\n") {
		t.Errorf("net-bridge doctor = %v:\n%s", err, stdout)
	}
	nettest.Run(t, "nft", "add", "table", "ip", "filter")
	nettest.Run(t, "nft", "add", "chain", "ip", "filter", "FORWARD", "{ type filter hook forward priority 0; policy drop; }")
	stdout, _, err = netBridge(t, state, nil, "doctor")
	var e *cli.ExitError
	if !errors.As(err, &e) || e.Code != 1 || !strings.Contains(stdout, "FAIL forwarded packets are dropped by default: table filter chain FORWARD policy drop\n     an accept in table ip ctrkit") {
		t.Errorf("net-bridge doctor with FORWARD drop = %v, want exit 1 and the FAIL with advice:\n%s", err, stdout)
	}
	nettest.Run(t, "nft", "delete", "table", "ip", "filter")

	for _, id := range []string{web, db} {
		if _, _, err := netBridge(t, state, nil, "detach", id); err != nil {
			t.Errorf("net-bridge detach %s = %v", id, err)
		}
	}
	if _, stderr, err := netBridge(t, state, nil, "--explain", "detach", web); err != nil || !strings.Contains(stderr, "container "+web+" was not attached") {
		t.Errorf("net-bridge detach %s again = %v, %q, want a note that it was not attached", web, err, stderr)
	}
	if _, _, err := netBridge(t, state, nil, "rm"); err != nil {
		t.Errorf("net-bridge rm = %v", err)
	}
	if ents, _ := os.ReadDir(state); len(ents) != 0 || nettest.Run(t, "nft", "list", "tables") != "" {
		t.Errorf("after detach and rm: STATE holds %d entries, nft tables %q; want nothing", len(ents), nettest.Run(t, "nft", "list", "tables"))
	}
}
