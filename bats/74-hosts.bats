#!/usr/bin/env bats
# Hosts as users have them: net-bridge on a kernel without the netlink
# families it does not use, published ports that a host service holds
# already, docker's -m 0, and the orphans a removed state dir leaves.
# Every test makes its own "host", a network namespace ($HOSTNS) where
# net-bridge runs, with a state dir of its own; nothing touches the real
# host's network.

load helpers

setup_file() {
	load helpers
	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root
	import_busybox
}

setup() {
	requires root busybox
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	export CTRKIT_STATE=$BATS_TEST_TMPDIR/state
	make_host_netns
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
	: >"$BATS_TEST_TMPDIR/pids"
}

teardown() {
	local pid id
	while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$BATS_TEST_TMPDIR/pids"
	wait || true
	for id in $(host net-bridge ls 2>/dev/null | awk 'NR > 1 { print $1 }'); do host net-bridge detach "$id" || true; done
	host net-bridge rm 2>/dev/null || true
	ip netns del "$HOSTNS" 2>/dev/null || true
}

# serve PORT: a host service, busybox httpd, listening on PORT in $HOSTNS
# (stopped by PID in teardown); returns once it listens.
serve() {
	host busybox httpd -f -p "$1" -h "$BATS_TEST_TMPDIR" 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/pids"
	for _ in $(seq 50); do
		host ss -Hltn "sport = :${1##*:}" | grep -q . && return 0
		sleep 0.1
	done
	fail "httpd on $1 did not start"
}

# nothing_made ID: attach left no namespace, veth or record for ID.
nothing_made() {
	run_tool ! ip netns exec "ck-$1" true
	run_tool host net-bridge ls
	refute_output --partial "$1"
}

@test "net-bridge attach opens netlink for NETLINK_ROUTE only [no xfrm socket: works without xfrm_user]" {
	command -v strace >/dev/null || skip "needs strace"
	run_tool strace -f -e trace=socket -o "$BATS_TEST_TMPDIR/trace" \
		nsenter --net="/run/netns/$HOSTNS" net-bridge attach --id t74x --network none
	run_tool cat "$BATS_TEST_TMPDIR/trace"
	assert_output --partial NETLINK_ROUTE
	refute_output --partial NETLINK_XFRM
	# Detaching a container without published ports needs no netfilter.
	run_tool strace -f -e trace=socket -o "$BATS_TEST_TMPDIR/trace" host net-bridge detach t74x
	run_tool cat "$BATS_TEST_TMPDIR/trace"
	refute_output --partial NETLINK_XFRM
	refute_output --partial NETLINK_NETFILTER
}

@test "net-bridge attach -p [a port a host service holds, given twice, or on an address not the host's: refused, nothing made]" {
	serve 18080
	run_tool --separate-stderr --status 1 host net-bridge attach --id t74a -p 18080:80
	assert_stderr_contains "0.0.0.0:18080/tcp is already in use on the host"
	assert_stderr_contains "address already in use"
	nothing_made t74a
	run_tool --separate-stderr --status 1 host net-bridge attach --id t74a -p 127.0.0.1:18080:80
	assert_stderr_contains "127.0.0.1:18080/tcp is already in use on the host"
	run_tool --separate-stderr --status 1 host net-bridge attach --id t74a -p 18081:80 -p 18081:81
	assert_stderr_contains "host port 18081/tcp is published twice"
	run_tool --separate-stderr --status 1 host net-bridge attach --id t74a -p 192.0.2.99:18082:80
	assert_stderr_contains "host address 192.0.2.99 is not an address of this host"
	nothing_made t74a
	# A free port, and the same port number over udp, are published.
	run_tool host net-bridge attach --id t74a -p 127.0.0.1:18083:80 -p 18080:80/udp
	run_tool host nft list table ip ctrkit
	assert_output --partial "dport 18083"
}

@test "ctr-run -m 0 [unlimited, as docker]" {
	run_tool host ctr-run --rm --network none -m 0 busybox sh -c 'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; echo alive'
	assert_output --partial alive
	refute_line 0
	run_tool host cg-limit run -m 0 -- true
}

@test "net-bridge doctor [an orphan ctrkit0 of a removed state dir: reported; --fix removes it, not a bridge ctrkit did not make]" {
	CTRKIT_STATE=$BATS_TEST_TMPDIR/gone run_tool host net-bridge create
	rm -rf "$BATS_TEST_TMPDIR/gone"
	run_tool ip -n "$HOSTNS" link add ctrkit9 type bridge # not ctrkit's
	run_tool --separate-stderr --status 125 host ctr-run --rm busybox true
	assert_stderr_contains "net-bridge doctor --fix removes the orphan"
	run_tool --status 1 host net-bridge doctor
	assert_output --partial "FAIL bridge ctrkit0 is an orphan"
	assert_output --partial "bridge ctrkit9 is not in this state dir"
	run_tool host net-bridge doctor --fix
	assert_output --partial "removed"
	run_tool ! ip -n "$HOSTNS" link show ctrkit0
	run_tool ip -n "$HOSTNS" link show ctrkit9
	run_tool ! ip netns exec "$HOSTNS" nft list table ip ctrkit
	run_tool host ctr-run --rm busybox true
	run_tool host net-bridge doctor
	refute_output --partial orphan
}
