#!/usr/bin/env bash
# bench-ctr-run.sh — start to exit of `true` in a container from an image
# already in the store: `ctr-run --rm` with a bridge network and memory/CPU
# limits, and without a network, next to `runc run` on a prepared bundle
# and `docker run --rm` / `podman run --rm` where they work. Runs in a
# network namespace it makes as the "host" (no packet leaves the machine).
# Needs root; never part of the tests.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
PATH=$repo/bin:$repo/scripts:$PATH
[ "$(id -u)" -eq 0 ] || { echo "bench-ctr-run: needs root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench-ctr-run: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }

work=$(mktemp -d /tmp/ck-bench-run.XXXXXX)
chmod 755 "$work"
ns=ck-bench-$$
cleanup() {
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
export CTRKIT_ROOT=$work/root CTRKIT_STATE=$work/state
ip netns add "$ns"
ip -n "$ns" link set lo up
mk-image.sh busybox:latest
in_ns="nsenter --net=/run/netns/$ns"

runs=${RUNS:-20}
median() { jq -r '.results[0].median * 1000' "$1"; }
bench() { # NAME COMMAND
	hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/$1.json" "$2" >/dev/null 2>&1 &&
		printf '%-34s %8.1f\n' "$1" "$(median "$work/$1.json")"
}

printf '%-34s %8s\n' "start to exit of true" "median ms"
bench "ctr-run --rm (bridge, -m, --cpus)" "$in_ns ctr-run --rm -m 64m --cpus 1 busybox true"
bench "ctr-run --rm --network none" "$in_ns ctr-run --rm --network none busybox true"
if command -v runc >/dev/null; then
	mkdir -p "$work/bundle"
	mk-rootfs.sh "$work/bundle/rootfs" >/dev/null
	(cd "$work/bundle" && ns-enter spec --pid --ipc --uts --net --rootfs rootfs -- /bin/true >config.json)
	bench "runc run (prepared bundle)" "runc run --bundle $work/bundle ck-bench-runc"
fi
for engine in docker podman; do
	if command -v "$engine" >/dev/null && "$engine" info >/dev/null 2>&1; then
		bench "$engine run --rm" "$engine run --rm busybox true"
	else
		printf '%-34s %8s\n' "$engine run --rm" "(not here)"
	fi
done
echo "target: ctr-run ≤ 0.2× docker's time, under 60 ms with the bridge, under 30 ms without"
