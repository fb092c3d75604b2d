#!/usr/bin/env bats
# net-bridge: container networking, for real, and no packet leaves the
# machine.  Every test makes its own "host", a network namespace ($HOST)
# where net-bridge runs, and an "outside world", a second namespace ($OUT)
# linked to it by a veth pair on 192.0.2.0/24 (TEST-NET-1, an address block
# reserved for documentation, routed nowhere), with a busybox httpd in it.
# Traffic only ever goes to addresses inside these namespaces.

load helpers

setup() {
	requires root busybox
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	name=$(safename)
	HOST=$name-h OUT=$name-o UP=$name-u
	export CTRKIT_STATE=$BATS_TEST_TMPDIR/state
	ip netns add "$HOST"
	ip netns add "$OUT"
	ip -n "$HOST" link add "$UP" type veth peer name eth0 netns "$OUT"
	ip -n "$HOST" addr add 192.0.2.1/24 dev "$UP"
	ip -n "$OUT" addr add 192.0.2.2/24 dev eth0
	for ns in "$HOST" "$OUT"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$HOST" link set "$UP" up
	ip -n "$OUT" link set eth0 up
	# The outside server answers / with "outside" and /cgi-bin/ip with the
	# address it sees the client come from.
	www=$BATS_TEST_TMPDIR/www
	mkdir -p "$www/cgi-bin"
	echo outside >"$www/index.html"
	printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho "$REMOTE_ADDR"\n' >"$www/cgi-bin/ip"
	chmod 755 "$www/cgi-bin/ip"
	ip netns exec "$OUT" busybox httpd -f -p 80 -h "$www" 3>&- &
	echo $! >"$BATS_TEST_TMPDIR/pids"
}

teardown() {
	local pid id
	# End every process still in the test's namespaces (by PID), then
	# detach whatever a failed test left, then the namespaces go.
	for ns in "$HOST" "$OUT" $(ip netns list | awk -v p="ck-${name#ck-}" 'index($1, p) == 1 { print $1 }'); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
	done
	while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$BATS_TEST_TMPDIR/pids"
	wait || true
	for id in $(nb ls 2>/dev/null | awk 'NR > 1 { print $1 }'); do nb detach "$id" || true; done
	for id in $(nb ls 2>/dev/null | awk 'NR > 1 { print $2 }' | sort -u); do nb rm --name "$id" 2>/dev/null || true; done
	nb rm 2>/dev/null || true
	nb rm --name "$name-b" 2>/dev/null || true
	ip netns del "$HOST" 2>/dev/null || true
	ip netns del "$OUT" 2>/dev/null || true
}

# nb ARGS: net-bridge in the test's host namespace.  nsenter --net switches
# only the network namespace, so the namespaces net-bridge binds under
# /run/netns are visible everywhere (ip netns exec would give it a mount
# namespace of its own, where they would vanish when it exits).
nb() { nsenter --net="/run/netns/$HOST" net-bridge "$@"; }

# cid N: a container id for this test, ck-<id> is its netns and veth.
cid() { echo "${name#ck-}$1"; }

# fetch NS URL: busybox wget in namespace NS, given 5 seconds.
fetch() { ip netns exec "$1" timeout 5 busybox wget -qO- "$2"; }

@test "net-bridge attach [two containers on the bridge reach each other]" {
	run_tool --separate-stderr nsenter --net="/run/netns/$HOST" net-bridge attach --id "$(cid a)"
	assert_output --regexp "^$(cid a) 10\.213\.0\.2 /run/netns/ck-$(cid a)$"
	run_tool --separate-stderr nsenter --net="/run/netns/$HOST" net-bridge attach --id "$(cid b)"
	b_ip=$(echo "$output" | cut -d' ' -f2)
	# Cross-check with ip: eth0 in the container, the veth on the bridge.
	run_tool ip -n "ck-$(cid b)" -o addr show dev eth0
	assert_output --partial "inet $b_ip/24"
	run_tool ip -n "$HOST" -o link show master ctrkit0
	assert_output --partial "ck-$(cid a)@"
	run_tool ip netns exec "ck-$(cid a)" busybox ping -c 1 -W 2 "$b_ip"
	assert_output --partial "1 packets received"
}

@test "net-bridge attach killed half-way [recorded first: detach, as gc runs it, removes what it got to]" {
	local id at
	id=$(cid k)
	# SIGKILL at the namespace's bind mount (nothing of the container's
	# made yet), then at the veth's move into it (namespace and pair made).
	for at in mount setns; do
		run nsenter --net="/run/netns/$HOST" strace -f -qq -o /dev/null -e trace="$at" -e inject="$at":signal=KILL \
			net-bridge attach --id "$id" <<<"$(ns-enter spec --net -- true)"
		assert_equal "$status" 137
		run_tool jq -r '[.[] | select(.stage == "net-bridge") | .undo | join(" ")] | unique[]' "$CTRKIT_STATE/$id/resources.json"
		assert_output "net-bridge detach $id"
		run_tool nsenter --net="/run/netns/$HOST" net-bridge detach "$id"
		run_tool test ! -e "$CTRKIT_STATE/$id"
		run_tool test ! -e "/run/netns/ck-$id"
		run ip -n "$HOST" link show "ck-$id"
		assert_failure
	done
}

@test "net-bridge attach [the outside server sees the host's address: masquerade]" {
	run_tool nsenter --net="/run/netns/$HOST" net-bridge attach --id "$(cid a)"
	run_tool ip netns exec "ck-$(cid a)" busybox wget -qO- http://192.0.2.2/
	assert_output outside
	run_tool ip netns exec "ck-$(cid a)" busybox wget -qO- http://192.0.2.2/cgi-bin/ip
	assert_output --regexp '^\[?(::ffff:)?192\.0\.2\.1\]?$'   # httpd may print it IPv4-mapped
	run_tool ip netns exec "$HOST" nft list chain ip ctrkit postrouting
	assert_output --partial 'ip saddr 10.213.0.0/24 oifname != "ctrkit0" masquerade'
}

@test "ns-enter spec | net-bridge attach -p 8080:80 | ns-enter [published port from outside and from 127.0.0.1]" {
	make_rootfs "$BATS_TEST_TMPDIR/rootfs"
	mkdir -p "$BATS_TEST_TMPDIR/rootfs/www"
	echo "hello from the container" >"$BATS_TEST_TMPDIR/rootfs/www/index.html"
	ctr=$(cid w)
	nsenter --net="/run/netns/$HOST" bash -c '
		ns-enter spec --rootfs "$1" -- httpd -f -p 80 -h /www |
			net-bridge attach --id "$2" -p 8080:80 | ns-enter' _ "$BATS_TEST_TMPDIR/rootfs" "$ctr" 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/pids"
	for _ in $(seq 50); do
		fetch "$OUT" http://192.0.2.1:8080/ >/dev/null 2>&1 && break
		sleep 0.1
	done
	run_tool ip netns exec "$OUT" busybox wget -qO- http://192.0.2.1:8080/
	assert_output "hello from the container"
	run_tool ip netns exec "$HOST" busybox wget -qO- http://127.0.0.1:8080/
	assert_output "hello from the container"
	# The container got the files net-bridge wrote.
	run_tool ip netns exec "$HOST" nft list chain ip ctrkit output
	assert_output --partial "dnat to 10.213.0.2:80"
	run_tool nsenter --net="/run/netns/$HOST" net-bridge ls
	assert_output --regexp "$ctr +ctrkit0 +10\.213\.0\.2 +8080:80/tcp"
}

@test "net-bridge attach --network none [only lo, up]" {
	run_tool nsenter --net="/run/netns/$HOST" net-bridge attach --network none --id "$(cid n)"
	run_tool ip -n "ck-$(cid n)" -o link
	assert_equal "${#lines[@]}" 1
	assert_output --regexp '^1: lo: <LOOPBACK,UP'
}

@test "img-pull nosuch | … | net-bridge attach | ns-enter [the stages after the failure make nothing: no namespace, no veth, no record]" {
	local store=$BATS_TEST_TMPDIR/store
	run_tool --separate-stderr ! nsenter --net="/run/netns/$HOST" env CTRKIT_ROOT="$store" bash -c \
		'img-pull --pull never nosuch | fs-layer mount | cg-limit -m 64m | net-bridge attach --id "$1" | ns-enter true' sh "$(cid f)"
	assert_stderr_contains "net-bridge: error: stdin: the pipe carried no runtime spec"
	assert_stderr_contains "nothing was made"
	[ ! -e "/run/netns/ck-$(cid f)" ]
	run_tool ip -n "$HOST" -o link
	refute_output --partial "ck-$(cid f)"
	[ ! -e "$CTRKIT_STATE/$(cid f)" ]
	# stdin from a terminal or /dev/null still attaches without a document
	run_tool nsenter --net="/run/netns/$HOST" net-bridge attach --network none --id "$(cid f)"
	[ -e "/run/netns/ck-$(cid f)" ]
}

@test "ns-enter spec --net | net-bridge attach --network host | ns-enter [the host's interfaces]" {
	run_tool nsenter --net="/run/netns/$HOST" bash -o pipefail -c \
		'ns-enter spec --net -- ip -o link | net-bridge attach --network host | ns-enter'
	assert_output --partial "$UP@"
}

@test "net-bridge attach x50 concurrently [50 distinct addresses; detach leaves nothing]" {
	local i
	run_tool nsenter --net="/run/netns/$HOST" net-bridge create
	local pids=()
	for i in $(seq 50); do
		nb attach --id "$(cid c$i)" >"$BATS_TEST_TMPDIR/attach.$i" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat "$BATS_TEST_TMPDIR"/attach.* | awk '{ print $2 }' | sort >"$BATS_TEST_TMPDIR/ips"
	run_tool sort -u "$BATS_TEST_TMPDIR/ips"
	assert_equal "${#lines[@]}" 50
	run_tool ip -n "$HOST" -o link show master ctrkit0
	assert_equal "${#lines[@]}" 50
	pids=()
	for i in $(seq 50); do
		nb detach "$(cid c$i)" &
		pids+=($!)
	done
	wait "${pids[@]}"
	run_tool ip -n "$HOST" -o link show master ctrkit0
	assert_output ""
	run_tool bash -c "ip netns list | grep -c '^ck-${name#ck-}c' || true"
	assert_output 0
	run_tool nsenter --net="/run/netns/$HOST" net-bridge ls
	assert_equal "${#lines[@]}" 1
	run_tool nsenter --net="/run/netns/$HOST" net-bridge rm
	run_tool ip netns exec "$HOST" nft list tables
	assert_output ""
	assert [ ! -e "$CTRKIT_STATE/net" ]
	run_tool find "$CTRKIT_STATE" -mindepth 1
	assert_output ""
}

@test "net-bridge attach --network macvlan --parent UPLINK [reaches the outside namespace]" {
	run_tool nsenter --net="/run/netns/$HOST" net-bridge attach --network macvlan --parent "$UP" \
		--subnet 192.0.2.0/24 --gateway 192.0.2.2 --id "$(cid m)"
	# .1 is the host's own address on the parent, .2 the gateway.
	assert_output --partial " 192.0.2.3 "
	run_tool ip -n "ck-$(cid m)" -d -o link show eth0
	assert_output --partial "macvlan mode bridge"
	run_tool ip netns exec "ck-$(cid m)" busybox wget -qO- http://192.0.2.2/cgi-bin/ip
	assert_output --regexp '^\[?(::ffff:)?192\.0\.2\.3\]?$'
}

@test "net-bridge create/attach [bad input: clear errors, nothing half-made]" {
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge create --subnet 10.1.2.0/33
	assert_output --partial 'subnet "10.1.2.0/33" is not an address/prefix'
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge create --subnet 10.1.2.3/24
	assert_output --partial "did you mean 10.1.2.0/24?"
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge create --subnet 192.0.2.0/25
	assert_output --partial "overlaps the host's route \"192.0.2.0/24 dev $UP\""
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge create --name ctrkit-much-too-long
	assert_output --partial 'is 20 bytes; Linux allows at most 15'
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge attach --id much-too-long-id
	assert_output --partial "too long for its veth"
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge attach -p 80
	assert_output --partial 'want [HOSTIP:]HOSTPORT:CTRPORT'
	# None of that left a bridge or a table.
	run_tool ip -n "$HOST" -o link show type bridge
	assert_output ""

	run_tool nsenter --net="/run/netns/$HOST" net-bridge attach --id "$(cid p)" -p 8080:80
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge attach --id "$(cid q)" -p 8080:81
	assert_output --partial "port 8080:81/tcp is published already, by container $(cid p)"
	assert [ ! -e "/run/netns/ck-$(cid q)" ]

	# A /30 holds a gateway and one container.
	run_tool nsenter --net="/run/netns/$HOST" net-bridge create --name "$name-b" --subnet 10.214.0.0/30
	run_tool nsenter --net="/run/netns/$HOST" net-bridge attach --name "$name-b" --id "$(cid x)"
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge attach --name "$name-b" --id "$(cid y)"
	assert_output --partial "no free address"
	assert [ ! -e "/run/netns/ck-$(cid y)" ]
	run_tool ! ip -n "$HOST" link show "ck-$(cid y)"
	run_tool ! nsenter --net="/run/netns/$HOST" net-bridge rm --name "$name-b"
	assert_output --partial "detach them first"
}

@test "net-bridge --explain create; show; doctor [steps, topology, checks]" {
	run_tool --separate-stderr nsenter --net="/run/netns/$HOST" net-bridge --explain create
	assert_stderr_contains '[net-bridge] RTM_NEWLINK bridge "ctrkit0"  $ ip link add ctrkit0 type bridge'
	assert_stderr_contains '$ nft add rule ip ctrkit postrouting ip saddr 10.213.0.0/24 oifname != "ctrkit0" masquerade'
	run_tool nsenter --net="/run/netns/$HOST" net-bridge attach --id "$(cid s)" -p 9090:80
	run_tool nsenter --net="/run/netns/$HOST" net-bridge show
	assert_output --partial "ctrkit0  bridge up  10.213.0.1/24"
	assert_output --partial "veth ck-$(cid s) up ══ eth0 10.213.0.2/24  netns ck-$(cid s)"
	assert_output --partial "dnat         *:9090/tcp (also 127.0.0.1) → 10.213.0.2:80"
	run_tool nsenter --net="/run/netns/$HOST" net-bridge doctor
	assert_output --partial "IPv4 forwarding is on"
	# The same check in a namespace with iptables' FORWARD policy drop.
	run_tool ip netns exec "$HOST" nft add table ip filter
	run_tool ip netns exec "$HOST" nft add chain ip filter FORWARD '{ type filter hook forward priority 0; policy drop; }'
	run_tool --status 1 nsenter --net="/run/netns/$HOST" net-bridge doctor
	assert_output --partial "table filter chain FORWARD policy drop"
}

@test "net-bridge attach after the bridge vanished [the recorded network is made again]" {
	run_tool --separate-stderr nsenter --net="/run/netns/$HOST" net-bridge attach --id "$(cid a)"
	run_tool nsenter --net="/run/netns/$HOST" net-bridge detach "$(cid a)"
	# As after a reboot: the state remembers ctrkit0, the kernel does not.
	run_tool ip -n "$HOST" link del ctrkit0
	run_tool --separate-stderr nsenter --net="/run/netns/$HOST" net-bridge --explain attach --id "$(cid b)"
	assert_stderr_contains 'its bridge ctrkit0 is gone: making it again'
	run_tool ip -n "$HOST" -o link show master ctrkit0
	assert_output --partial "ck-$(cid b)@"
}
