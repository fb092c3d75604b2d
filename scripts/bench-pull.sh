#!/usr/bin/env bash
# bench-pull.sh — how long does a cold pull take?  (make bench)
#
# Usage: scripts/bench-pull.sh          BENCH_PULL_RUNS=5 by default
#
# Generates a ~250 MB image of 7 layers of random bytes, pushes it to a
# docker-registry started on a free 127.0.0.1 port, then times cold pulls
# (empty store every run) with img-pull and `skopeo copy` to an OCI layout
# (download only), and `podman pull` when installed, reporting medians.
# This is a benchmark, not a test: it never fails because of the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
. "$repo/scripts/bench-lib.sh"
runs=${BENCH_PULL_RUNS:-5}
for tool in docker-registry skopeo jq; do
	command -v "$tool" >/dev/null || { echo "bench-pull: needs $tool (scripts/setup.sh)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/ck-bench-pull.XXXXXX)
reg_pid=
cleanup() {
	[ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null || true
	discard "$tmp"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$tmp/registry.yml" <<YAML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $tmp/registry}}
http: {addr: 127.0.0.1:$port}
YAML
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
reg_pid=$!
until curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; do sleep 0.1; done

echo "bench-pull: generating a 7-layer ~250 MB image" >&2
tars=()
for i in 1 2 3 4 5 6 7; do
	mkdir -p "$tmp/l$i"
	head -c 36M /dev/urandom >"$tmp/l$i/data$i"
	tar -C "$tmp/l$i" -cf "$tmp/l$i.tar" .
	rm -rf "${tmp:?}/l$i"
	tars+=("$tmp/l$i.tar")
done
CTRKIT_ROOT=$tmp/src "$repo/bin/img-pull" import "${tars[@]}" bench:1 >/dev/null 2>&1
rm -f "${tars[@]}"
ref=127.0.0.1:$port/ck/bench:1
skopeo copy -q --dest-tls-verify=false "oci:$tmp/src/oci:docker.io/library/bench:1" "docker://$ref"
rm -rf "$tmp/src"

# median_s CMD: median wall seconds over $runs cold runs ($tmp/dst emptied first).
median_s() {
	local cmd=$1 i t0 t1
	for ((i = 0; i < runs; i++)); do
		rm -rf "$tmp/dst"
		sync
		t0=$(date +%s%N)
		sh -c "$cmd" >/dev/null 2>&1 </dev/null || { echo "bench-pull: failed: $cmd" >&2; return 1; }
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000))
	done | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.2f\n", m / 1000 }'
}

# row FIGURE CTRKIT PEER PEER-VALUE TARGET: one line of make bench's table.
row() { [ -z "${BENCH_TABLE:-}" ] || printf '%s|%s|%s|%s|%s\n' "$@" >>"$BENCH_TABLE"; }
declare -A secs
names=(img-pull skopeo)
secs[img-pull]=$(median_s "CTRKIT_ROOT=$tmp/dst $repo/bin/img-pull -q --print digest $ref")
secs[skopeo]=$(median_s "skopeo copy -q --src-tls-verify=false docker://$ref oci:$tmp/dst:bench")
if command -v podman >/dev/null; then
	names+=(podman)
	secs[podman]=$(median_s "podman --root $tmp/dst/podman --runroot $tmp/dst/run --tmpdir $tmp/dst/libpod pull -q --tls-verify=false $ref")
fi

echo
printf '%-10s %10s %10s\n' tool "median s" "× skopeo"
for name in "${names[@]}"; do
	printf '%-10s %10s %10s\n' "$name" "${secs[$name]}" "$(awk -v a="${secs[$name]}" -v b="${secs[skopeo]}" 'BEGIN { printf "%.2f", a / b }')"
done
echo
echo "(cold pulls of a 7-layer ~250 MB image from docker-registry on 127.0.0.1, $runs runs each;"
echo " img-pull and skopeo download only; podman also unpacks)"
echo "target: img-pull download ≤ 0.6× skopeo"
row "download a 7-layer ~250 MB image from 127.0.0.1 (s)" "${secs[img-pull]}" "skopeo copy" "${secs[skopeo]}" "≤ 0.6×"
