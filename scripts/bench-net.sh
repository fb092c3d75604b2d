#!/usr/bin/env bash
# bench-net.sh — how long do attach + detach of one container take?  (make bench)
#
# Usage: sudo scripts/bench-net.sh          BENCH_RUNS=50 by default
#
# Compares `net-bridge attach -p 8080:80` + `net-bridge detach` (namespace,
# veth pair, address, route, one published port, then all of it removed)
# with the same steps as an ip/nft shell script.  Everything happens in a
# network namespace the benchmark makes and deletes: no packet is sent, and
# the real host's links and rules are never touched.  Reports the median
# wall time; never fails because of the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
. "$repo/scripts/bench-lib.sh"
runs=${BENCH_RUNS:-50}
[ "$(id -u)" -eq 0 ] || { echo "bench-net: namespaces need root: sudo $0" >&2; exit 1; }
command -v nft >/dev/null || { echo "bench-net: needs nft (apt-get install nftables)" >&2; exit 1; }
[ -x "$repo/bin/net-bridge" ] || { echo "bench-net: bin/net-bridge not built (make build)" >&2; exit 1; }

host=ck-bench-host
tmp=$(mktemp -d /tmp/ck-bench-net.XXXXXX)
export CTRKIT_STATE=$tmp/state
cleanup() {
	nsenter --net=/run/netns/$host "$repo/bin/net-bridge" detach bench >/dev/null 2>&1 || true
	ip netns del ck-bsh 2>/dev/null || true
	ip netns del $host 2>/dev/null || true
	discard "$tmp"
}
trap cleanup EXIT
ip netns add $host
ip -n $host link set lo up
nsenter --net=/run/netns/$host "$repo/bin/net-bridge" create >/dev/null

# The same steps by hand (address fixed at .200, outside net-bridge's pool).
cat >"$tmp/attach-detach.sh" <<'SH'
set -e
ip netns add ck-bsh
ip link add ck-bsh master ctrkit0 type veth peer name eth0 netns ck-bsh
ip link set ck-bsh up
ip -n ck-bsh link set lo up
ip -n ck-bsh addr add 10.213.0.200/24 dev eth0
ip -n ck-bsh link set eth0 up
ip -n ck-bsh route add default via 10.213.0.1
nft -f - <<NFT
add rule ip ctrkit prerouting fib daddr type local tcp dport 8081 dnat to 10.213.0.200:80 comment "bench-sh"
add rule ip ctrkit output fib daddr type local tcp dport 8081 dnat to 10.213.0.200:80 comment "bench-sh"
add rule ip ctrkit forward oifname "ctrkit0" ip daddr 10.213.0.200 tcp dport 80 ct status dnat accept comment "bench-sh"
NFT
for chain in prerouting output forward; do
	nft -a list chain ip ctrkit $chain | awk '/comment "bench-sh"/ { print $NF }' | while read -r h; do
		nft delete rule ip ctrkit $chain handle "$h"
	done
done
ip link del ck-bsh
ip netns del ck-bsh
SH

nb="$repo/bin/net-bridge attach --id bench -p 8080:80 >/dev/null && $repo/bin/net-bridge detach bench"
sh_cmd="bash $tmp/attach-detach.sh"
in_host="nsenter --net=/run/netns/$host"

median_ms() {
	hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$tmp/h.json" "$1" >&2
	jq '.results[0].median * 1000' "$tmp/h.json"
}
if ! command -v hyperfine >/dev/null; then
	echo "bench-net: needs hyperfine (apt-get install hyperfine)" >&2
	exit 1
fi
base=$(median_ms "$in_host true")
a=$(median_ms "$in_host sh -c '$nb'")
b=$(median_ms "$in_host $sh_cmd")

echo
printf '%-34s %10s\n' "attach + detach, one port" "median ms"
printf '%-34s %10.2f\n' "net-bridge" "$(awk -v a="$a" -v z="$base" 'BEGIN { print a - z }')"
printf '%-34s %10.2f\n' "ip/nft shell script" "$(awk -v b="$b" -v z="$base" 'BEGIN { print b - z }')"
awk -v a="$a" -v b="$b" -v z="$base" 'BEGIN { printf "ratio net-bridge / script: %.2f   (nsenter overhead %.2f ms subtracted)\n", (a - z) / (b - z), z }'
echo "target: ≤ 0.3× the script's time and under 20 ms"
