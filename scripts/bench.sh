#!/usr/bin/env bash
# bench.sh — how long does starting a tiny container take?  (make bench)
#
# Usage: sudo scripts/bench.sh            BENCH_RUNS=50 by default
#
# Builds a busybox bundle (rootfs + config.json) in a temp dir and times
# running /bin/true in it with ns-enter, runc and crun, reporting the median
# wall time, the ratio to runc and the peak RSS (GNU time's %M).  A tool
# that is missing or fails on the first try is skipped with a note.
# This is a benchmark, not a test: it never fails because of the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
. "$repo/scripts/bench-lib.sh"
runs=${BENCH_RUNS:-50}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: containers need root: sudo $0" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/ck-bench.XXXXXX)
trap 'discard "$tmp"' EXIT
# ns-enter keeps the seccomp filters it compiled in ROOT/cache, and the
# cg-limit it runs records the cgroup under STATE: both here (the default
# STATE, /run/ctrkit, would stay behind).
export CTRKIT_ROOT=$tmp/root CTRKIT_STATE=$tmp/state
bundle=$tmp/bundle
mkdir -p "$bundle"
"$repo/scripts/mk-rootfs.sh" "$bundle/rootfs"

# The spec: ns-enter's if it can write one, else runc's default.  Either
# way: /bin/true, no terminal (runc refuses one without a tty), a relative
# root, and a cgroup path runc can create and removes again.
nsenter=$repo/bin/ns-enter
if [ -x "$nsenter" ] && "$nsenter" spec --rootfs "$bundle/rootfs" -- /bin/true >"$tmp/spec.json" 2>"$tmp/spec.err"; then
	echo "bench: config.json from: ns-enter spec --rootfs rootfs -- /bin/true"
elif command -v runc >/dev/null && runc spec --bundle "$tmp" 2>/dev/null && mv "$tmp/config.json" "$tmp/spec.json"; then
	if [ -x "$nsenter" ]; then
		echo "bench: 'ns-enter spec' failed: $(head -c 300 "$tmp/spec.err")" >&2
	fi
	echo "bench: config.json from: runc spec (ns-enter spec not available)"
else
	echo "bench: neither 'ns-enter spec' nor 'runc spec' could write a config.json" >&2
	exit 1
fi
jq '.root.path = "rootfs" | .process.args = ["/bin/true"] | .process.terminal = false
	| del(.linux.cgroupsPath)' "$tmp/spec.json" >"$bundle/config.json"

# runc and crun always put the container in a new cgroup, so they get a
# cgroupsPath they create and remove; ns-enter only joins a cgroup that
# exists (creating one is cg-limit's job), so its bundle has none.  crun 1.8
# rejects the spec versions newer than it knows: claim 1.0.2.
oci=$tmp/bundle-oci
mkdir -p "$oci"
cp -al "$bundle/rootfs" "$oci/rootfs"
jq '.ociVersion = "1.0.2" | .linux.cgroupsPath = "/ctrkit-bench"' "$bundle/config.json" >"$oci/config.json"

# crun 1.8 rejects this host's hybrid cgroup layout (a cgroup2 mount at
# /sys/fs/cgroup/unified next to the v1 hierarchies); in a private mount
# namespace without that mount it sees plain cgroup v1 and works.
# There crun writes directories of its own into /sys/fs/cgroup/unified: a
# tmpfs mounted for it keeps them off the host's directory under the mount.
# The runtimes' state goes under $tmp, not the host's /run.
crun_cmd="crun --root $tmp/crun run --bundle $oci ck-bench-\$\$" crun_note=
if mountpoint -q /sys/fs/cgroup/unified 2>/dev/null; then
	crun_cmd="unshare -m sh -c 'umount /sys/fs/cgroup/unified && mount -t tmpfs ck-bench-unified /sys/fs/cgroup/unified && exec $crun_cmd'"
	crun_note="(crun's time includes unshare -m, umount and mount)"
fi

names=() cmds=()
add() { # add NAME SHELL-COMMAND, if it works once
	local name=$1 cmd=$2
	if ! sh -c "$cmd" >"$tmp/out" 2>&1 </dev/null; then
		echo "bench: skipping $name, it failed: $cmd" >&2
		sed 's/^/    /' "$tmp/out" | head -5 >&2
		return 0
	fi
	names+=("$name")
	cmds+=("$cmd")
}
if [ -x "$nsenter" ]; then
	add ns-enter "$nsenter --bundle $bundle"
else
	echo "bench: skipping ns-enter: $nsenter not built (make build)" >&2
fi
if command -v runc >/dev/null; then
	add runc "runc --root $tmp/runc run --bundle $oci ck-bench-\$\$ || { runc --root $tmp/runc delete -f ck-bench-\$\$; exit 1; }"
else
	echo "bench: skipping runc: not installed" >&2
fi
if command -v crun >/dev/null; then
	add crun "$crun_cmd"
else
	echo "bench: skipping crun: not installed" >&2
fi
[ "${#names[@]}" -gt 0 ] || { echo "bench: nothing to run" >&2; exit 1; }

# median_ms NAME CMD: median wall time in milliseconds over $runs runs.
median_ms() {
	local cmd=$1
	if command -v hyperfine >/dev/null; then
		hyperfine --style basic --runs "$runs" --warmup 3 --export-json "$tmp/h.json" "$cmd" >&2
		jq '.results[0].median * 1000' "$tmp/h.json"
	else
		local i t0 t1
		for ((i = 0; i < runs; i++)); do
			t0=$(date +%s%N)
			sh -c "$cmd" >/dev/null 2>&1 </dev/null || true
			t1=$(date +%s%N)
			echo $(((t1 - t0) / 1000))
		done | sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m / 1000 }'
	fi
}

# peak_kb CMD: median over 5 runs of the peak RSS of the command's process
# tree (GNU time %M, kilobytes).
peak_kb() {
	local cmd=$1 i
	if ! [ -x /usr/bin/time ]; then
		echo "?"
		return
	fi
	for ((i = 0; i < 5; i++)); do
		/usr/bin/time -f %M -o "$tmp/rss" sh -c "$cmd" >/dev/null 2>&1 </dev/null || true
		tail -n 1 "$tmp/rss"
	done | sort -n | sed -n 3p
}

declare -A ms kb
for i in "${!names[@]}"; do
	echo "bench: ${names[i]}: ${cmds[i]}" >&2
	ms[${names[i]}]=$(median_ms "${cmds[i]}")
	kb[${names[i]}]=$(peak_kb "${cmds[i]}")
done

echo
printf '%-10s %12s %10s %14s\n' tool "median ms" "× runc" "peak RSS KiB"
for name in "${names[@]}"; do
	ratio=-
	if [ -n "${ms[runc]:-}" ]; then
		ratio=$(awk -v a="${ms[$name]}" -v b="${ms[runc]}" 'BEGIN { printf "%.2f", a / b }')
	fi
	printf '%-10s %12.2f %10s %14s\n' "$name" "${ms[$name]}" "$ratio" "${kb[$name]}"
done
[ -z "${ms[crun]:-}" ] || [ -z "$crun_note" ] || echo "$crun_note"
echo
echo "(runc and crun create and remove a cgroup per run; ns-enter joins none)"
echo "target: ns-enter ≤ 0.7× runc time, peak memory ≤ runc's"

# fs-layer: unpack of a ~250 MB image against tar and umoci, and mount time.
if [ -z "${BENCH_NO_LAYERS:-}" ]; then
	echo
	"$repo/scripts/bench-layers.sh"
fi
