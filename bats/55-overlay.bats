#!/usr/bin/env bats
# net-bridge --driver overlay: one network across hosts, over VXLAN, and
# ctr-run on it. Each "host" is a network namespace the test makes
# ($name-a, $name-b, …) with its own ctrkit state directory, plugged into a
# "wire", a bridge in one more namespace ($name-w), with an address of
# 198.51.100.0/24 (TEST-NET-2, documentation only, routed nowhere) on its
# uplink up0: the underlay. No packet leaves these namespaces.

load helpers

setup() {
	requires root busybox
	name=$(safename)
	W=$name-w
	ip netns add "$W"
	ip -n "$W" link add br0 type bridge
	ip -n "$W" link set br0 up
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	# on H CMD…: CMD on host H, with H's own state directory. nsenter
	# --net switches only the network namespace, so the container
	# namespaces bound under /run/netns stay visible to every host.
	printf '#!/bin/sh\nh=$1; shift\nCTRKIT_STATE=%s/state-$h exec nsenter --net=/run/netns/%s-$h "$@"\n' \
		"$BATS_TEST_TMPDIR" "$name" >"$BATS_TEST_TMPDIR/bin/on"
	chmod +x "$BATS_TEST_TMPDIR/bin/on"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH
}

teardown() {
	local h id pid
	for h in $(cat "$BATS_TEST_TMPDIR/hosts" 2>/dev/null); do
		for id in $(on "$h" ctr-run ps -a 2>/dev/null | awk 'NR > 1 {print $1}'); do
			on "$h" ctr-run rm -f "$id" >/dev/null 2>&1 || true
		done
		for id in $(on "$h" net-bridge ls 2>/dev/null | awk 'NR > 1 {print $1}'); do
			for pid in $(ip netns pids "ck-$id" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
			on "$h" net-bridge detach "$id" || true
		done
		on "$h" net-bridge rm --name ov 2>/dev/null || true
		for pid in $(ip netns pids "$name-$h" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
	done
	wait || true
	for h in $(cat "$BATS_TEST_TMPDIR/hosts" 2>/dev/null); do
		ip netns del "$name-$h" 2>/dev/null || true
	done
	ip netns del "$W" 2>/dev/null || true
}

# host H N: make host H, underlay address 198.51.100.N on up0, on the wire.
host() {
	local ns=$name-$1
	echo "$1" >>"$BATS_TEST_TMPDIR/hosts"
	ip netns add "$ns"
	ip -n "$ns" link set dev lo up
	ip -n "$ns" link add up0 type veth peer name "to-$1" netns "$W"
	ip -n "$W" link set dev "to-$1" master br0 up
	ip -n "$ns" addr add "198.51.100.$2/24" dev up0
	ip -n "$ns" link set dev up0 up
}

# overlay H N [PEER_N…]: net-bridge create --driver overlay on host H.
overlay() {
	local h=$1 n=$2 p
	shift 2
	local -a peers=()
	for p in "$@"; do peers+=(--peer "198.51.100.$p"); done
	run_tool on "$h" net-bridge create --driver overlay --name ov --subnet 10.220.0.0/16 --vni 42 \
		--underlay "198.51.100.$n" "${peers[@]}"
}

# cid X: a container id of this test (its namespace is ck-<id>).
cid() { echo "${name#ck-}$1"; }

# reach FROM IP: ping IP from container FROM.
reach() { run_tool ip netns exec "ck-$(cid "$1")" busybox ping -c 1 -W 2 "$2"; }

# fetch NS URL: busybox wget in namespace NS, retried while the server starts.
fetch() {
	local i
	for i in $(seq 30); do
		ip netns exec "$1" timeout 5 busybox wget -qO- "$2" && return 0
		sleep 0.1
	done
	return 1
}

# only_uplink H: host H has nothing left but lo and its uplink.
only_uplink() {
	run_tool ip -n "$name-$1" -o link show
	assert_equal "$(echo "$output" | awk '{sub(/@.*/, "", $2); sub(/:$/, "", $2); print $2}' | xargs)" "lo up0"
	assert [ ! -e "$BATS_TEST_TMPDIR/state-$1/net" ]
}

@test "net-bridge create --driver overlay on two hosts [containers ping and fetch a page over VXLAN]" {
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	host a 1
	host b 2
	# The wire counts the VXLAN datagrams it forwards (UDP port 4789).
	printf 'table bridge ckwire {\n chain pass {\n  type filter hook forward priority 0;\n  udp dport 4789 counter\n }\n}\n' |
		nsenter --net="/run/netns/$W" nft -f -
	run_tool --separate-stderr on a net-bridge --explain create --driver overlay --name ov --subnet 10.220.0.0/16 \
		--vni 42 --underlay 198.51.100.1 --peer 198.51.100.2
	assert_output "ov 10.220.0.0/16 10.220.1.0/24"
	[[ $stderr == *'$ ip link add vx-ov mtu 1450 master ov type vxlan id 42 local 198.51.100.1 dev up0 dstport 4789 nolearning'* ]]
	[[ $stderr == *'$ bridge fdb append 00:00:00:00:00:00 dev vx-ov dst 198.51.100.2'* ]]
	overlay b 2 1
	assert_output "ov 10.220.0.0/16 10.220.2.0/24"
	# Cross-check with ip and bridge: the device, its flood entry.
	run_tool ip -n "$name-a" -d link show vx-ov
	assert_output --regexp "mtu 1450 .*master ov"
	assert_output --regexp "vxlan id 42 local 198\.51\.100\.1 dev up0 .*dstport 4789 nolearning"
	run_tool bridge -n "$name-b" fdb show dev vx-ov
	assert_line "00:00:00:00:00:00 dst 198.51.100.1 self permanent"

	run_tool on a net-bridge attach --network ov --id "$(cid a)"
	assert_output "$(cid a) 10.220.1.1 /run/netns/ck-$(cid a)"
	run_tool on b net-bridge attach --network ov --id "$(cid b)"
	assert_output "$(cid b) 10.220.2.1 /run/netns/ck-$(cid b)"
	run_tool ip -n "ck-$(cid a)" -o link show eth0
	assert_output --partial "mtu 1450"

	reach a 10.220.2.1
	assert_output --partial "1 packets received"
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo "hello from host b" >"$BATS_TEST_TMPDIR/www/index.html"
	ip netns exec "ck-$(cid b)" busybox httpd -f -p 80 -h "$BATS_TEST_TMPDIR/www" 3>&- &
	run fetch "ck-$(cid a)" http://10.220.2.1/
	assert_success
	assert_output "hello from host b"

	# The underlay carried it as VXLAN: the wire saw UDP 4789, host b's
	# device unwrapped what it received.
	run_tool nsenter --net="/run/netns/$W" nft -j list table bridge ckwire
	packets=$(echo "$output" | jq '[.nftables[].rule? | select(.) | .expr[] | .counter? | select(.) | .packets] | add')
	[ "$packets" -ge 4 ] || fail "the wire forwarded $packets VXLAN datagrams, want at least 4"
	run_tool ip -n "$name-b" -s -j link show vx-ov
	[ "$(echo "$output" | jq '.[0].stats64.rx.packets')" -ge 2 ]

	run_tool on a net-bridge show
	assert_line --regexp "^└── ov  overlay bridge up  mtu 1450  \(subnet 10\.220\.0\.0/16, this host's range 10\.220\.1\.0/24\)$"
	assert_line --regexp "vx-ov  vxlan id 42 local 198\.51\.100\.1 dstport 4789 nolearning  up  \(tx [1-9][0-9]* rx [1-9][0-9]* packets\)"
	assert_line --partial "══ udp 4789 ══ peer 198.51.100.2  (its containers get 10.220.2.0/24)"
	assert_line --partial "fdb 00:00:00:00:00:00 dst 198.51.100.2 self permanent"
	assert_line --regexp "fdb ([0-9a-f]{2}:){5}[0-9a-f]{2} master  \(learned by the bridge"
	assert_line --partial "eth0 10.220.1.1/16  netns ck-$(cid a)  (container $(cid a))"

	# Without host b as a peer, host a sends nothing there: no ping.
	run_tool on a net-bridge overlay peer rm ov 198.51.100.2
	run_tool bridge -n "$name-a" fdb show dev vx-ov
	refute_output --partial "dst 198.51.100.2"
	reach_status=0
	ip netns exec "ck-$(cid a)" busybox ping -c 1 -W 1 10.220.2.1 || reach_status=$?
	[ "$reach_status" -ne 0 ] || fail "ping crossed the overlay with no peer"
	run_tool on a net-bridge overlay peer add ov 198.51.100.2
	reach a 10.220.2.1

	# The kernel lost the device (a reboot, a slip): create again makes it,
	# and the containers on the bridge stay as they were.
	ip -n "$name-a" link del vx-ov
	overlay a 1 2
	run_tool bridge -n "$name-a" fdb show dev vx-ov
	assert_line "00:00:00:00:00:00 dst 198.51.100.2 self permanent"
	reach a 10.220.2.1
}

@test "net-bridge overlay peer add [a third host joins and reaches both; detach and rm leave nothing on any host]" {
	host a 1
	host b 2
	host c 3
	overlay a 1 2
	overlay b 2 1
	run_tool on a net-bridge attach --network ov --id "$(cid a)"
	run_tool on b net-bridge attach --network ov --id "$(cid b)"
	# Host c joins: it names both; both add it.
	overlay c 3 1 2
	assert_output "ov 10.220.0.0/16 10.220.3.0/24"
	run_tool on a net-bridge overlay peer add ov 198.51.100.3
	run_tool on b net-bridge overlay peer add ov 198.51.100.3
	run_tool on b net-bridge overlay peer ls ov
	assert_line --regexp "^198\.51\.100\.2 +10\.220\.2\.0/24 +\(this host\)$"
	assert_line --regexp "^198\.51\.100\.3 +10\.220\.3\.0/24 *$"
	run_tool on c net-bridge attach --network ov --id "$(cid c)"
	assert_output "$(cid c) 10.220.3.1 /run/netns/ck-$(cid c)"
	reach c 10.220.1.1
	reach c 10.220.2.1
	reach a 10.220.3.1
	reach b 10.220.1.1

	for h in a b c; do
		run_tool on "$h" net-bridge detach "$(cid "$h")"
		run_tool on "$h" net-bridge rm --name ov
	done
	for h in a b c; do
		only_uplink "$h"
		refute [ -e "/run/netns/ck-$(cid "$h")" ]
	done
}

@test "net-bridge create --driver overlay [bad input: clear errors, nothing half-made]" {
	host a 1
	fails() {
		run_tool --separate-stderr --status 1 on a net-bridge create --driver overlay --name "${name: -6}" "$@"
		[[ $stderr == *"$want"* ]] || fail "stderr: want '$want'"
	}
	want="overlaps the host's route" fails --subnet 198.51.0.0/16 --vni 7 --underlay 198.51.100.1
	want="is not an address of this host" fails --subnet 10.220.0.0/16 --vni 7 --underlay 198.51.100.9
	want="peer 203.0.113.5 is unreachable" fails --subnet 10.220.0.0/16 --vni 7 --underlay 198.51.100.1 --peer 203.0.113.5
	ip -n "$name-a" route add 203.0.113.0/24 dev up0
	want="peer 203.0.113.1 and 198.51.100.1 both end in .1" fails --subnet 10.220.0.0/16 --vni 7 --underlay 198.51.100.1 --peer 203.0.113.1
	want="needs a /22 or larger" fails --subnet 10.220.0.0/24 --vni 7 --underlay 198.51.100.1
	ip -n "$name-a" link add vxother type vxlan id 77 dstport 4789 dev up0
	want='vni 77 is in use by the VXLAN device "vxother"' fails --subnet 10.220.0.0/16 --vni 77 --underlay 198.51.100.1
	ip -n "$name-a" link del vxother
	ip -n "$name-a" link set up0 mtu 600
	want="has MTU 600, which leaves 550 for containers" fails --subnet 10.220.0.0/16 --vni 7 --underlay 198.51.100.1
	ip -n "$name-a" link set up0 mtu 1500
	ip -n "$name-a" route del 203.0.113.0/24 dev up0
	only_uplink a

	overlay a 1
	want='vni 42 is in use by ctrkit network "ov"' fails --subnet 10.221.0.0/16 --vni 42 --underlay 198.51.100.1
	want='overlaps 10.220.0.0/16 of ctrkit network "ov"' fails --subnet 10.220.128.0/17 --vni 43 --underlay 198.51.100.1
	run_tool --separate-stderr --status 1 on a net-bridge attach --network ov --id "$(cid a)" -p 8080:80
	assert_equal "$stderr" "net-bridge: error: network \"ov\" is an overlay: publishing ports needs a bridge network (the host has no address on an overlay; Docker publishes through a second network, docker_gwbridge)"
	refute [ -e "/run/netns/ck-$(cid a)" ]
	run_tool on a net-bridge rm --name ov
	only_uplink a
}

@test "ctr-run --network ov on two hosts; ctr-run --network macvlan --parent up0" {
	requires overlay
	export CTRKIT_ROOT=$BATS_TEST_TMPDIR/root
	make_rootfs "$BATS_TEST_TMPDIR/rootfs"
	tar -C "$BATS_TEST_TMPDIR/rootfs" -cf "$BATS_TEST_TMPDIR/busybox.tar" .
	img-pull import --cmd=sh "$BATS_TEST_TMPDIR/busybox.tar" busybox:latest >/dev/null 2>&1
	host a 1
	host b 2
	overlay a 1 2
	overlay b 2 1
	run_tool on b ctr-run -d --name web --network ov busybox httpd -f -p 80 -h /etc
	local web=$output
	run_tool on a ctr-run --rm --network ov busybox sh -c \
		'for i in $(seq 30); do wget -qO- http://10.220.2.1/hostname && exit; sleep 0.1; done; exit 1'
	assert_output "$web"
	run_tool on b ctr-run rm -f web

	# macvlan: a container on host b's LAN with an address of its own (the
	# first free one of up0's subnet: .1 is taken as the gateway, .2 is
	# host b's), reaching a server on host s.
	host s 254
	mkdir -p "$BATS_TEST_TMPDIR/www"
	echo "hello from the LAN" >"$BATS_TEST_TMPDIR/www/index.html"
	ip netns exec "$name-s" busybox httpd -f -p 80 -h "$BATS_TEST_TMPDIR/www" 3>&- &
	run_tool on b ctr-run --rm --network macvlan --parent up0 busybox sh -c \
		'ip -o -4 addr show eth0; for i in $(seq 30); do wget -qO- http://198.51.100.254/ && exit; sleep 0.1; done; exit 1'
	assert_line --regexp "eth0 +inet 198\.51\.100\.3/24 "
	assert_line "hello from the LAN"
	for h in a b; do
		run_tool on "$h" net-bridge rm --name ov
	done
	only_uplink a
	only_uplink b
}
