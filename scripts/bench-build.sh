#!/usr/bin/env bash
# bench-build.sh — img-build: a cold build and a fully cached rebuild of a
# small Dockerfile (6 instructions, one RUN), next to `buildah bud` when it
# is installed: ROUNDS rounds (5 by default), each a cold, a cached and an
# uncached (--no-cache) build by both, one after the other, and the
# medians. A cold build has a store of its own with only the base image in
# it (not unpacked: img-pull leaves that to fs-layer), and buildah's cache
# is emptied but for the base. --no-cache runs every step again in the
# store the builds before left: the base unpacked, as buildah's pull left
# its own. No store is deleted before the end: ext4 without a journal makes
# every new inode skip those deleted in the last minutes (docs/bench.md,
# Unpacking), which would weigh on the next round. Needs root and
# overlayfs; never part of the tests.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/bench-lib.sh"
PATH=$repo/bin:$repo/scripts:$PATH
[ "$(id -u)" -eq 0 ] || { echo "bench-build: needs root" >&2; exit 1; }

# A lower-case path: buildah names an image copied from an OCI layout
# after the layout's path, and an image name must be lower case.
work=/tmp/ck-bench-build.$$
mkdir "$work"
trap 'discard "$work"' EXIT
mk-rootfs.sh "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/base.tar" .
# fresh: a new store under $work/stores/N with the base image imported.
fresh() {
	export CTRKIT_ROOT=$work/stores/$1/root CTRKIT_STATE=$work/stores/$1/state
	img-pull import "$work/base.tar" busybox:latest >/dev/null 2>&1
}
fresh 0

ctx=$work/ctx
mkdir -p "$ctx/src"
for i in $(seq 1 50); do head -c 4096 /dev/urandom >"$ctx/src/f$i"; done
cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM busybox:latest
ENV APP=/app
WORKDIR /app
COPY src/ src/
RUN cat src/* | md5sum > sum && ls src | wc -l > count
CMD ["cat", "/app/sum"]
DOCKERFILE

# row FIGURE CTRKIT PEER PEER-VALUE TARGET: one line of make bench's table.
row() { [ -z "${BENCH_TABLE:-}" ] || printf '%s|%s|%s|%s|%s\n' "$@" >>"$BENCH_TABLE"; }
ms() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }

rounds=${ROUNDS:-5}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
buildah=
if command -v buildah >/dev/null; then
	export STORAGE_DRIVER=overlay
	bopts=(--root "$work/buildah" --runroot "$work/buildah-run")
	if buildah "${bopts[@]}" pull "oci:$CTRKIT_ROOT/oci:docker.io/library/busybox:latest" >/dev/null 2>&1; then
		buildah "${bopts[@]}" tag "$(buildah "${bopts[@]}" images -q | head -1)" busybox:latest >/dev/null 2>&1 || true
		buildah=1
	fi
	# buildah as root raises RLIMIT_NOFILE and RLIMIT_NPROC above what a
	# process without CAP_SYS_RESOURCE may: 1024, always allowed.
	bud=(bud --pull=never --isolation chroot --layers -t bench:1
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
	bms() { # [--no-cache]
		local t0 t1
		t0=$(date +%s%N)
		if ! buildah "${bopts[@]}" "${bud[@]}" "$@" "$ctx" >"$work/bout" 2>&1; then
			echo "bench-build: buildah bud failed: $(tail -n 3 "$work/bout")" >&2
			return 1
		fi
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000))
	}
else
	echo "buildah not installed: no comparison"
fi

cold=() warm=() bcold=() bwarm=() nocache=() bnocache=()
for r in $(seq 1 "$rounds"); do
	[ "$r" -eq 1 ] || fresh "$r"
	cold+=("$(ms img-build -t bench:1 "$ctx")")
	warm+=("$(ms img-build -t bench:1 "$ctx")")
	nocache+=("$(ms img-build --no-cache -t bench:1 "$ctx")")
	[ -n "$buildah" ] || continue
	# A failed build is no time: its rows stay out of the table.
	if t=$(bms); then bcold+=("$t"); fi
	if t=$(bms); then bwarm+=("$t"); fi
	if t=$(bms --no-cache); then bnocache+=("$t"); fi
	# Cold again next round: the image and its cached steps go, the base stays.
	buildah "${bopts[@]}" rmi -f bench:1 >/dev/null 2>&1 || true
	buildah "${bopts[@]}" rmi --prune >/dev/null 2>&1 || true
done
printf '%-28s %8s ms  (%s)\n' "img-build cold" "$(median "${cold[@]}")" "${cold[*]}" \
	"img-build fully cached" "$(median "${warm[@]}")" "${warm[*]}" \
	"img-build --no-cache" "$(median "${nocache[@]}")" "${nocache[*]}"
if [ -n "$buildah" ]; then
	printf '%-28s %8s ms  (%s)\n' "buildah bud cold" "$(median "${bcold[@]}")" "${bcold[*]}" \
		"buildah bud fully cached" "$(median "${bwarm[@]}")" "${bwarm[*]}" \
		"buildah bud --no-cache" "$(median "${bnocache[@]}")" "${bnocache[*]}"
	[ "${#bcold[@]}" -eq 0 ] || row "build, cold, median of $rounds (ms)" "$(median "${cold[@]}")" "buildah bud" "$(median "${bcold[@]}")" "≤ 0.15×"
	[ "${#bnocache[@]}" -eq 0 ] || row "build, every step run (--no-cache), the base unpacked by the build before, median of $rounds (ms)" "$(median "${nocache[@]}")" "buildah bud --no-cache" "$(median "${bnocache[@]}")" "≤ 0.15×"
	[ "${#bwarm[@]}" -eq 0 ] || row "build, fully cached, median of $rounds (ms)" "$(median "${warm[@]}")" "buildah bud" "$(median "${bwarm[@]}")" "≤ 0.15×"
	buildah "${bopts[@]}" rm --all >/dev/null 2>&1 || true
	umount -R "$work/buildah" 2>/dev/null || true
fi
