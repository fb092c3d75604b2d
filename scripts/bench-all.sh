#!/usr/bin/env bash
# bench-all.sh — every benchmark, then one table of what matters: each
# ctrkit figure, its peer measured on the same input in the same run, the
# ratio and the target (issue 17; docs/bench.md has the last run).
#
# Usage: sudo scripts/bench-all.sh [NAME…]     (make bench; default: all)
#   NAME is a scripts/bench-NAME.sh: layers ctr-run oci floor pull build net overlay cg-limit serve,
#   or "runtime" for scripts/bench.sh.
# The peers are Debian packages (scripts/setup.sh installs them): tar,
# umoci, podman (with runc), runc, crun, skopeo, buildah; a missing one
# leaves its cell empty. A benchmark, not a test: the numbers never fail it.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "bench-all: needs root: sudo $0" >&2; exit 1; }
table=$(mktemp /tmp/ck-bench-table.XXXXXX)
# Each benchmark's work directory goes here (discard, scripts/bench-lib.sh)
# and is removed at the end: a removal would slow the benchmarks after it.
trash=$(mktemp -d /var/tmp/ck-bench-trash.XXXXXX)
trap 'rm -f "$table"; rm -rf "$trash"' EXIT
export BENCH_TABLE=$table BENCH_TRASH=$trash

names=("$@")
[ "${#names[@]}" -gt 0 ] || names=(layers ctr-run oci floor pull build runtime net overlay cg-limit serve)
for n in "${names[@]}"; do
	script=$repo/scripts/bench-$n.sh
	[ "$n" != runtime ] || script=$repo/scripts/bench.sh
	[ -x "$script" ] || { echo "bench-all: no benchmark $n ($script)" >&2; exit 2; }
	echo "== $n"
	# bench.sh runs bench-layers.sh at its end: not twice.
	BENCH_NO_LAYERS=1 "$script" || echo "bench-all: $script failed: its rows are missing" >&2
	# What a benchmark left dirty is written back before the next starts:
	# the layers' hundreds of megabytes slowed the runs after them by ~3 ms.
	sync
	echo
done

echo "== make bench: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| figure | ctrkit | peer | peer's | ratio | target |"
echo "|---|---:|---|---:|---:|---|"
round() { case $1 in *.*) awk -v v="$1" 'BEGIN { printf (v < 10 ? "%.2f" : "%.1f"), v }' ;; *) printf '%s' "$1" ;; esac; }
while IFS='|' read -r figure ours peer theirs target; do
	ratio=-
	if [ -n "$theirs" ] && [ -n "$ours" ]; then
		ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }')
	fi
	printf '| %s | %s | %s | %s | %s | %s |\n' "$figure" "$(round "$ours")" "$peer" "$(round "${theirs:-(not here)}")" "$ratio" "$target"
done <"$table"
