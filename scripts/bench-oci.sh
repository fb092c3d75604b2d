#!/usr/bin/env bash
# bench-oci.sh — the OCI runtime's own cost, on one prepared bundle with a
# cgroup to make (linux.resources and a cgroupsPath that does not exist
# yet): `run` of /bin/true, and create + start + delete as containerd's
# shim calls them, for ctrkit-runc, runc and crun side by side.
# crun 1.8 refuses this host's hybrid cgroup layout, so the whole
# benchmark runs in one private mount namespace with
# /sys/fs/cgroup/unified unmounted (not a wrapper per run), and the spec
# says ociVersion 1.0.2, the newest crun 1.8 accepts. Needs root;
# never part of the tests.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/bench-lib.sh"
PATH=$repo/bin:$repo/scripts:$PATH
[ "$(id -u)" -eq 0 ] || { echo "bench-oci: needs root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench-oci: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }

if [ "${1-}" != __inside ]; then
	exec unshare --mount --propagation private -- "$0" __inside
fi
if mountpoint -q /sys/fs/cgroup/unified; then
	umount /sys/fs/cgroup/unified
fi
# crun, finding no cgroup2 there, writes its own directories into
# /sys/fs/cgroup/unified: give it a tmpfs that goes with the namespace,
# not the host's directory under the mount.
mount -t tmpfs -o mode=0755 ck-bench-unified /sys/fs/cgroup/unified
mount -t tmpfs -o mode=0755 ck-bench-run /run # the runtimes' state, gone with the namespace

work=$(mktemp -d /tmp/ck-bench-oci.XXXXXX)
trap 'discard "$work"' EXIT
# ctrkit-runc keeps the seccomp filters it compiled in ROOT/cache: the
# warm-up runs fill it, as any earlier container would (crun and runc
# compile at every start).
export CTRKIT_ROOT=$work/root
mkdir -p "$work/bundle"
mk-rootfs.sh "$work/bundle/rootfs" >/dev/null
# ctrkit's default spec (docker's seccomp profile and device allowlist),
# in a cgroup each runtime makes and removes; no network namespace to keep
# the comparison on the runtime.
(cd "$work/bundle" && ctrkit-runc spec)
jq '.ociVersion = "1.0.2" | .process.terminal = false | .process.args = ["/bin/true"] | .linux.cgroupsPath = "/ck-bench-oci/c"
    | .linux.resources.memory = {"limit": 67108864} | .linux.resources.pids = {"limit": 100}' \
	"$work/bundle/config.json" >"$work/c.json" && mv "$work/c.json" "$work/bundle/config.json"

# row FIGURE CTRKIT PEER PEER-VALUE TARGET: one line of make bench's table.
row() { [ -z "${BENCH_TABLE:-}" ] || printf '%s|%s|%s|%s|%s\n' "$@" >>"$BENCH_TABLE"; }

runs=${RUNS:-30}
declare -A ms
median() { jq -r '.results[0].median * 1000' "$1"; }
bench() { # NAME COMMAND
	hyperfine -N --warmup 3 --runs "$runs" --export-json "$work/$1.json" "$2" >/dev/null 2>&1 &&
		ms[$1]=$(median "$work/$1.json") &&
		printf '%-44s %8.1f\n' "$1" "${ms[$1]}" ||
		printf '%-44s %8s\n' "$1" "(failed)"
}
cycle() { # RUNTIME: create, start, delete as the shim does
	printf '%s --root /run/ck-bench create --bundle %s c >/dev/null 2>&1 </dev/null && %s --root /run/ck-bench start c && sleep 0.01 && %s --root /run/ck-bench delete -f c' \
		"$1" "$work/bundle" "$1" "$1"
}

printf '%-44s %8s\n' "/bin/true in a new cgroup" "median ms"
for rt in ctrkit-runc runc crun; do
	command -v "$rt" >/dev/null || { printf '%-44s %8s\n' "$rt" "(not here)"; continue; }
	bench "$rt run" "$rt --root /run/ck-bench run --bundle $work/bundle c"
	bench "$rt create+start+delete" "bash -c '$(cycle "$rt")'"
done
rmdir /sys/fs/cgroup/*/ck-bench-oci 2>/dev/null || true
echo "target: ctrkit-runc ≤ 1.0× crun, cgroup included"
[ -z "${ms[ctrkit-runc run]:-}" ] || row "ctrkit-runc run, /bin/true in a new cgroup (ms)" "${ms[ctrkit-runc run]}" "crun run" "${ms[crun run]:-}" "≤ 1.0×"
[ -z "${ms[ctrkit-runc run]:-}" ] || row "ctrkit-runc run, /bin/true in a new cgroup (ms)" "${ms[ctrkit-runc run]}" "runc run" "${ms[runc run]:-}" "(runc for scale)"
