#!/usr/bin/env bash
# bench-cg-limit.sh — what does `cg-limit run` add to starting a command?  (make bench)
#
# Usage: sudo scripts/bench-cg-limit.sh     BENCH_RUNS=100 by default
#
# Times /bin/true three ways: bare; with `cg-limit run -m 64m` (which makes
# the cgroup in every hierarchy it needs, sets the limit, starts the command
# inside it, and removes the cgroup); and with cgroup-tools' `cgexec` into a
# memory cgroup made beforehand (so cgexec only joins: the cheapest way into
# a cgroup), when cgroup-tools is installed; then `cg-limit run` again, each
# run 0.3 s after the one before, as a user runs it.  Reports median wall
# times and what each adds to bare; never fails because of the numbers.
# Target: cg-limit run adds under 5 ms.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
. "$repo/scripts/bench-lib.sh"
runs=${BENCH_RUNS:-100}
[ "$(id -u)" -eq 0 ] || { echo "bench-cg-limit: cgroups need root: sudo $0" >&2; exit 1; }
[ -x "$repo/bin/cg-limit" ] || { echo "bench-cg-limit: bin/cg-limit not built (make build)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ck-bench.XXXXXX)
# cg-limit run records its cgroup under STATE: here, not in /run/ctrkit.
export CTRKIT_STATE=$tmp/state
cgname=ck-bench-cgexec
made_cgexec=0
cleanup() {
	[ "$made_cgexec" = 0 ] || cgdelete -g "memory:/$cgname" 2>/dev/null || true
	discard "$tmp"
}
trap cleanup EXIT

names=(bare "cg-limit run")
cmds=(/bin/true "$repo/bin/cg-limit run -m 64m -- /bin/true")
if command -v cgexec >/dev/null && command -v cgcreate >/dev/null; then
	if cgcreate -g "memory:/$cgname" 2>"$tmp/err"; then
		made_cgexec=1
		names+=(cgexec)
		cmds+=("cgexec -g memory:/$cgname /bin/true")
	else
		echo "bench-cg-limit: skipping cgexec: cgcreate failed: $(cat "$tmp/err")" >&2
	fi
else
	echo "bench-cg-limit: skipping cgexec: not installed (apt-get install cgroup-tools)" >&2
fi

median_ms() { # CMD [RUNS PAUSE]: PAUSE seconds idle before each run
	local cmd=$1 n=${2:-$runs} pause=${3:-0}
	if command -v hyperfine >/dev/null; then
		local prepare=()
		[ "$pause" = 0 ] || prepare=(--prepare "sleep $pause")
		hyperfine -N --style basic --runs "$n" --warmup 5 "${prepare[@]}" --export-json "$tmp/h.json" "$cmd" >&2
		jq '.results[0].median * 1000' "$tmp/h.json"
	else
		local i t0 t1
		for ((i = 0; i < n; i++)); do
			[ "$pause" = 0 ] || sleep "$pause"
			t0=$(date +%s%N)
			$cmd >/dev/null 2>&1 </dev/null || true
			t1=$(date +%s%N)
			echo $(((t1 - t0) / 1000))
		done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] / 1000 }'
	fi
}

declare -A ms
for i in "${!names[@]}"; do
	ms[${names[i]}]=$(median_ms "${cmds[i]}")
done
# Back to back, a run finds the cgroup lock (cgroup_threadgroup_rwsem) in
# the state the run before left it, past the RCU grace period a writer
# waits for; a user's run comes alone. So once more, 0.3 s apart.
names+=("run, alone")
ms["run, alone"]=$(median_ms "${cmds[1]}" 20 0.3)
echo
printf '%-14s %10s %12s\n' "start /bin/true" "median ms" "added ms"
for name in "${names[@]}"; do
	printf '%-14s %10.2f %12.2f\n' "$name" "${ms[$name]}" "$(awk -v a="${ms[$name]}" -v b="${ms[bare]}" 'BEGIN { print a - b }')"
done
echo "(run, alone: cg-limit run 0.3 s after the run before; cg-limit run creates, limits and removes a cgroup in $("$repo/bin/cg-limit" info --format json | jq -r .mode) mode; cgexec joins one that exists)"
echo "target: cg-limit run adds under 5 ms"
