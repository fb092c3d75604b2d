#!/usr/bin/env bash
# bench-serve.sh — the docker CLI through `ctr-run serve`: `docker run --rm
# busybox true` (bridge, and --network none) and `docker ps`, next to
# ctr-run itself, and to dockerd where BENCH_DOCKERD=1 asks for one (a
# private dockerd, its own socket and /run, started for the benchmark).
# Runs in a network namespace it makes as the "host". Needs root; never
# part of the tests.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/bench-lib.sh"
PATH=$repo/bin:$repo/scripts:$PATH
[ "$(id -u)" -eq 0 ] || { echo "bench-serve: needs root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench-serve: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
docker=/usr/bin/docker
[ -x "$docker" ] || { echo "bench-serve: needs the docker client (apt-get install docker.io)" >&2; exit 0; }

work=$(mktemp -d /tmp/ck-bench-serve.XXXXXX)
chmod 755 "$work"
ns=ck-bserve-$$
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	ip netns del "$ns" 2>/dev/null || true
	discard "$work"
	peer_cgroups_remove
}
# shellcheck source=scripts/peer-cgroups.bash
. "$repo/scripts/peer-cgroups.bash"
peer_cgroups_before docker
trap cleanup EXIT
export CTRKIT_ROOT=$work/root CTRKIT_STATE=$work/state
ip netns add "$ns"
ip -n "$ns" link set lo up
mk-image.sh busybox:latest >/dev/null
in_ns="nsenter --net=/run/netns/$ns"

sock=$work/docker.sock
$in_ns ctr-run serve --socket "$sock" 2>"$work/serve.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done

runs=${RUNS:-20}
median() { jq -r '.results[0].median * 1000' "$1"; }
bench() { # NAME COMMAND
	hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/bench.json" "$2" >/dev/null 2>&1 &&
		printf '%-44s %8.1f\n' "$1" "$(median "$work/bench.json")" ||
		printf '%-44s %8s\n' "$1" "(failed)"
}

printf '%-44s %8s\n' "through the Docker Engine API" "median ms"
bench "ctr-run --rm busybox true" "$in_ns ctr-run --rm busybox true"
bench "docker run --rm busybox true (serve)" "$docker -H unix://$sock run --rm busybox true"
bench "docker run --rm --network none (serve)" "$docker -H unix://$sock run --rm --network none busybox true"
$docker -H "unix://$sock" run -d --network none busybox sleep 600 >/dev/null
bench "docker ps (serve, 1 container)" "$docker -H unix://$sock ps"
bench "curl GET /containers/json (serve)" "curl -s --unix-socket $sock http://x/v1.43/containers/json"
$docker -H "unix://$sock" rm -f "$($docker -H "unix://$sock" ps -q)" >/dev/null

if [ "${BENCH_DOCKERD:-0}" = 1 ] && command -v dockerd >/dev/null && command -v skopeo >/dev/null; then
	dsock=$work/dockerd.sock
	$in_ns unshare --mount --propagation private -- sh -c 'mount -t tmpfs -o mode=0755 ck-bench-run /run && exec "$@"' sh \
		dockerd --host "unix://$dsock" --data-root "$work/docker" --exec-root "$work/docker-exec" --pidfile "$work/dockerd.pid" \
		--iptables=false --ip6tables=false --bridge=none >"$work/dockerd.log" 2>&1 </dev/null &
	pids+=($!)
	for _ in $(seq 200); do $docker -H "unix://$dsock" version >/dev/null 2>&1 && break; sleep 0.1; done
	skopeo copy --quiet "oci:$CTRKIT_ROOT/oci:docker.io/library/busybox:latest" "docker-archive:$work/busybox.tar:busybox:latest"
	$docker -H "unix://$dsock" load -i "$work/busybox.tar" >/dev/null
	bench "docker run --rm --network none (dockerd)" "$docker -H unix://$dsock run --rm --network none busybox true"
	bench "docker ps (dockerd, 0 containers)" "$docker -H unix://$dsock ps"
else
	printf '%-44s %8s\n' "dockerd" "(BENCH_DOCKERD=1 to compare)"
fi
echo "target: docker run through serve ≤ 0.5× dockerd's time"
