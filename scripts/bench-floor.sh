#!/usr/bin/env bash
# bench-floor.sh — what ctrkit's process design costs on this machine
# before any stage works: the processes of `ctr-run --rm` (seven Go
# processes) and of `ctrkit-runc run` (three), started in the same order
# with the same pipes, each doing nothing but pass a 26 KB document on
# (scripts/floor/main.go), next to the same processes in C
# (scripts/floor/c/floor.c): the kernel's share. A time target below the
# Go floor cannot be met by making the stages cheaper (docs/bench.md).
# Needs go and gcc (make build's); never part of the tests.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/bench-lib.sh"
command -v hyperfine >/dev/null || { echo "bench-floor: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }
work=$(mktemp -d /tmp/ck-bench-floor.XXXXXX)
trap 'discard "$work"' EXIT
(cd "$repo" && CGO_ENABLED=0 go build -trimpath -o "$work/floor" ./scripts/floor)
gcc -O2 -Wall -o "$work/floor-c" "$repo/scripts/floor/c/floor.c"

# row FIGURE CTRKIT PEER PEER-VALUE TARGET: one line of make bench's table.
row() { [ -z "${BENCH_TABLE:-}" ] || printf '%s|%s|%s|%s|%s\n' "$@" >>"$BENCH_TABLE"; }

runs=${RUNS:-40}
declare -A ms
bench() { # NAME COMMAND
	hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/h.json" "$2" >/dev/null 2>&1 &&
		ms[$1]=$(jq -r '.results[0].median * 1000' "$work/h.json") &&
		printf '%-24s %8.1f\n' "$1" "${ms[$1]}" ||
		printf '%-24s %8s\n' "$1" "(failed)"
}

printf '%-24s %8s\n' "processes doing nothing" "median ms"
for shape in run runtime; do
	bench "go $shape" "$work/floor $shape"
	bench "c $shape" "$work/floor-c $shape"
done
row "the floor of ctr-run --rm: its 7 Go processes in its order, doing nothing but pass the document (ms)" "${ms[go run]:-}" "the same in C" "${ms[c run]:-}" "(for scale: the 40 and 60 ms of the targets include it)"
row "the floor of ctrkit-runc run: its 3 Go processes, doing nothing (ms)" "${ms[go runtime]:-}" "the same in C" "${ms[c runtime]:-}" "(for scale: ctrkit-runc run includes it, crun run one C process)"
