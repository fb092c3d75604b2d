#!/usr/bin/env bash
# bench-overlay.sh — what does VXLAN cost?  (make bench)
#
# Usage: sudo scripts/bench-overlay.sh      BENCH_SECONDS=3 by default
#
# TCP throughput (iperf3) between two containers on one host's bridge, the
# same across an overlay network between two hosts, and, for reference,
# between the two hosts themselves over the underlay.  The hosts are network
# namespaces joined by a bridge in a third one (198.51.100.0/24, addresses
# for documentation): no packet leaves the machine.  Everything is CPU work
# in one kernel, so the numbers show what wrapping each frame costs, not a
# real wire's speed.  Never fails because of the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
. "$repo/scripts/bench-lib.sh"
secs=${BENCH_SECONDS:-3}
[ "$(id -u)" -eq 0 ] || { echo "bench-overlay: namespaces need root: sudo $0" >&2; exit 1; }
command -v iperf3 >/dev/null || { echo "bench-overlay: needs iperf3 (apt-get install iperf3): skipped" >&2; exit 0; }
[ -x "$repo/bin/net-bridge" ] || { echo "bench-overlay: bin/net-bridge not built (make build)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ck-bench-ov.XXXXXX)
pids=()
on() { local h=$1; shift; CTRKIT_STATE=$tmp/state-$h nsenter --net="/run/netns/ck-bov$h" "$@"; }
cleanup() {
	local p h id
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	for h in a b; do
		for id in bova1 bova2 bovb1; do on $h "$repo/bin/net-bridge" detach $id >/dev/null 2>&1 || true; done
		on $h "$repo/bin/net-bridge" rm --name bov >/dev/null 2>&1 || true
		ip netns del ck-bov$h 2>/dev/null || true
	done
	ip netns del ck-bovw 2>/dev/null || true
	discard "$tmp"
}
trap cleanup EXIT

ip netns add ck-bovw
ip -n ck-bovw link add sw type bridge
ip -n ck-bovw link set dev sw up
for h in a b; do
	n=$([ $h = a ] && echo 1 || echo 2)
	ip netns add ck-bov$h
	ip -n ck-bov$h link set dev lo up
	ip -n ck-bov$h link add up0 type veth peer name to-$h netns ck-bovw
	ip -n ck-bovw link set dev to-$h master sw up
	ip -n ck-bov$h addr add "198.51.100.$n/24" dev up0
	ip -n ck-bov$h link set dev up0 up
	peer=$([ $h = a ] && echo 2 || echo 1)
	on $h "$repo/bin/net-bridge" create --driver overlay --name bov --subnet 10.221.0.0/16 --vni 4242 \
		--underlay "198.51.100.$n" --peer "198.51.100.$peer" >/dev/null
done
on a "$repo/bin/net-bridge" attach --network bov --id bova1 >/dev/null
on a "$repo/bin/net-bridge" attach --network bov --id bova2 >/dev/null # 10.221.1.2, same bridge
on b "$repo/bin/net-bridge" attach --network bov --id bovb1 >/dev/null # 10.221.2.1, across VXLAN

for ns in ck-bova2 ck-bovb1 ck-bovb; do
	ip netns exec $ns iperf3 -s -1 >/dev/null 2>&1 &
	pids+=($!)
done
sleep 0.5

# gbits FROM_NS TO_IP: the receiver's rate of a $secs-second TCP test.
gbits() {
	ip netns exec "$1" iperf3 -c "$2" -t "$secs" -J | jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | floor / 100'
}
mtu() { ip -n "$1" -o link show "$2" | grep -o 'mtu [0-9]*' | cut -d' ' -f2; }

echo
echo "bench-overlay: TCP throughput, iperf3 -t $secs, one kernel (CPU-bound)"
printf '  %-44s %6s  %s\n' "path" "MTU" "Gbit/s"
printf '  %-44s %6s  %s\n' "container to container, same bridge (host a)" "$(mtu ck-bova1 eth0)" "$(gbits ck-bova1 10.221.1.2)"
printf '  %-44s %6s  %s\n' "container a to container b, overlay (VXLAN)" "$(mtu ck-bova1 eth0)" "$(gbits ck-bova1 10.221.2.1)"
printf '  %-44s %6s  %s\n' "host a to host b, the underlay itself" "$(mtu ck-bova up0)" "$(gbits ck-bova 198.51.100.2)"
