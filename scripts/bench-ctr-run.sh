#!/usr/bin/env bash
# bench-ctr-run.sh — start to exit of `true` in a container from an image
# already in the store: `ctr-run --rm` with a bridge network and memory/CPU
# limits, and without a network, next to `podman run --rm` (with runc, its
# own store, the same busybox image, the same flags), `runc run` on a
# prepared bundle and `docker run --rm` where a docker daemon answers; then
# the resident memory a detached container costs: ctr-run's supervisor and
# ns-enter, against podman's conmon. Runs in a network namespace it makes
# as the "host" (no packet leaves the machine). Needs root; never part of
# the tests.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/bench-lib.sh"
PATH=$repo/bin:$repo/scripts:$PATH
[ "$(id -u)" -eq 0 ] || { echo "bench-ctr-run: needs root" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench-ctr-run: needs hyperfine (apt-get install hyperfine)" >&2; exit 1; }

# A lower-case path: podman names an image copied from an OCI layout
# after the layout's path, and an image name must be lower case.
work=/tmp/ck-bench-run.$$
mkdir "$work"
chmod 755 "$work"
ns=ck-bench-$$
in_ns="nsenter --net=/run/netns/$ns"
# The runtimes' state goes where it goes by default, on a tmpfs (/run):
# ctrkit's /run/ctrkit, podman's runroot, runc's /run/runc, all in $run.
run=$work/run
podman=(podman --root "$work/podman" --runroot "$run/podman" --tmpdir "$run/libpod" --runtime runc --runtime-flag "root=$run/runc"
	--cgroup-manager cgroupfs --events-backend none --storage-driver overlay)
# podman as root raises RLIMIT_NOFILE and RLIMIT_NPROC above what a process
# without CAP_SYS_RESOURCE may (runc then fails with EPERM): 1024, always
# allowed (a lower limit costs nothing to set).
prun=(run --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
cleanup() {
	if [ -d "$work/podman" ]; then
		$in_ns "${podman[@]}" rm -af -t 0 >/dev/null 2>&1 || true
		"${podman[@]}" system reset -f >/dev/null 2>&1 || true
	fi
	[ -z "${cid:-}" ] || ctr-run rm -f "$cid" >/dev/null 2>&1 || true
	ip netns del "$ns" 2>/dev/null || true
	umount -R "$work/podman" 2>/dev/null || true
	umount -R "$run" 2>/dev/null || true
	discard "$work"
	peer_cgroups_remove
	[ -z "$runc_root_made" ] || rmdir /run/runc 2>/dev/null || true
}
# shellcheck source=scripts/peer-cgroups.bash
. "$repo/scripts/peer-cgroups.bash"
peer_cgroups_before libpod_parent
# podman cleans up with `runc delete` without its --runtime-flag root=,
# which makes runc's default state root: removed again if it was not there.
runc_root_made=
[ -e /run/runc ] || runc_root_made=1
trap cleanup EXIT
mkdir "$run"
mount -t tmpfs -o mode=0755 ck-bench-run "$run"
export CTRKIT_ROOT=$work/root CTRKIT_STATE=$run/ctrkit
ip netns add "$ns"
ip -n "$ns" link set lo up
mk-image.sh busybox:latest

# row FIGURE CTRKIT PEER PEER-VALUE TARGET: one line of make bench's table.
row() { [ -z "${BENCH_TABLE:-}" ] || printf '%s|%s|%s|%s|%s\n' "$@" >>"$BENCH_TABLE"; }

runs=${RUNS:-20}
declare -A ms
bench() { # NAME COMMAND
	if hyperfine -N --warmup 2 --runs "$runs" --export-json "$work/h.json" "$2" >/dev/null 2>&1; then
		ms[$1]=$(jq -r '.results[0].median * 1000' "$work/h.json")
		printf '%-38s %8.1f\n' "$1" "${ms[$1]}"
	else
		printf '%-38s %8s\n' "$1" "(failed)"
	fi
}

printf '%-38s %8s\n' "start to exit of true" "median ms"
bench bridge "$in_ns ctr-run --rm -m 64m --cpus 1 busybox true"
bench none "$in_ns ctr-run --rm --network none busybox true"
if command -v runc >/dev/null; then
	mkdir -p "$work/bundle"
	mk-rootfs.sh "$work/bundle/rootfs" >/dev/null
	(cd "$work/bundle" && ns-enter spec --pid --ipc --uts --net --rootfs rootfs -- /bin/true >config.json)
	bench "runc run (prepared bundle)" "runc --root $run/runc run --bundle $work/bundle ck-bench-runc"
fi
# podman with runc, its own store under $work, the busybox image copied
# from ctrkit's OCI layout: nothing is pulled from the internet.
pimg=
if command -v podman >/dev/null &&
	"${podman[@]}" pull -q "oci:$CTRKIT_ROOT/oci:docker.io/library/busybox:latest" >"$work/pimg" 2>"$work/perr"; then
	pimg=$(cat "$work/pimg")
	bench "podman bridge" "$in_ns ${podman[*]} ${prun[*]} --rm -m 64m --cpus 1 $pimg true"
	bench "podman none" "$in_ns ${podman[*]} ${prun[*]} --rm --network none $pimg true"
else
	echo "podman: not installed or the image copy failed: $(head -c 300 "$work/perr" 2>/dev/null)" >&2
fi
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	bench "docker run --rm" "docker run --rm busybox true"
fi
echo "target: ctr-run ≤ 0.2× podman's time, ≤ 60 ms with the bridge, ≤ 40 ms without"
[ -z "${ms[bridge]:-}" ] || row "ctr-run --rm -m 64m --cpus 1 busybox true, bridge (ms)" "${ms[bridge]}" "podman run (runc)" "${ms[podman bridge]:-}" "≤ 0.2×, ≤ 60 ms"
[ -z "${ms[none]:-}" ] || row "ctr-run --rm --network none busybox true (ms)" "${ms[none]}" "podman run (runc)" "${ms[podman none]:-}" "≤ 0.2×, ≤ 40 ms"

# Resident memory of a detached container's keepers, in KiB (VmRSS): the
# processes that stay per container besides the container's own.
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
cid=$(ctr-run -d --network none busybox sleep 60)
sup=$(cut -d@ -f1 "$CTRKIT_STATE/$cid/supervisor")
sleep 0.5
kb=0 who=
for p in $sup $(pgrep -P "$sup" || true); do
	comm=$(cat "/proc/$p/comm" 2>/dev/null) || continue
	case $comm in
	ctr-run | ctr-run-supervi | ns-enter)
		kb=$((kb + $(rss "$p")))
		who+=" $comm $(rss "$p") ($(awk '/^Rss(Anon|File)/ { printf "%s%s ", $1, $2 }' "/proc/$p/status"))"
		;;
	esac
done
ctr-run rm -f "$cid" >/dev/null && cid=
pkb=
if [ -n "$pimg" ]; then
	if pid=$($in_ns "${podman[@]}" "${prun[@]}" -d --network none "$pimg" sleep 60); then
		conmon=$("${podman[@]}" inspect --format '{{.State.ConmonPid}}' "$pid")
		pkb=$(rss "$conmon")
		$in_ns "${podman[@]}" rm -f -t 0 "$pid" >/dev/null || true
	fi
fi
echo
echo "resident per detached container: ctrkit $kb KiB ($who ), podman's conmon ${pkb:-?} KiB"
echo "target: ≤ 4096 KiB"
row "resident memory per -d container (KiB)" "$kb" "conmon (podman)" "$pkb" "≤ 4096 KiB"
