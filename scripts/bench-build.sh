#!/usr/bin/env bash
# bench-build.sh — img-build: a cold build and a fully cached rebuild of a
# small Dockerfile (6 instructions, one RUN), next to `buildah bud` when it
# is installed.  Needs root and overlayfs; never part of the tests.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
PATH=$repo/bin:$repo/scripts:$PATH
[ "$(id -u)" -eq 0 ] || { echo "bench-build: needs root" >&2; exit 1; }

# A lower-case path: buildah names an image copied from an OCI layout
# after the layout's path, and an image name must be lower case.
work=/tmp/ck-bench-build.$$
mkdir "$work"
trap 'rm -rf "$work"' EXIT
export CTRKIT_ROOT=$work/root CTRKIT_STATE=$work/state
mk-rootfs.sh "$work/rootfs" >/dev/null
tar -C "$work/rootfs" -cf "$work/base.tar" .
img-pull import "$work/base.tar" busybox:latest >/dev/null 2>&1

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

cold=$(ms img-build -t bench:1 "$ctx")
warm=$(ms img-build -t bench:1 "$ctx")
printf '%-28s %8s ms\n' "img-build cold" "$cold" "img-build fully cached" "$warm"

if command -v buildah >/dev/null; then
	export STORAGE_DRIVER=overlay
	bopts=(--root "$work/buildah" --runroot "$work/buildah-run")
	if buildah "${bopts[@]}" pull "oci:$CTRKIT_ROOT/oci:docker.io/library/busybox:latest" >/dev/null 2>&1; then
		buildah "${bopts[@]}" tag "$(buildah "${bopts[@]}" images -q | head -1)" busybox:latest >/dev/null 2>&1 || true
	fi
	# buildah as root raises RLIMIT_NOFILE and RLIMIT_NPROC above what a
	# process without CAP_SYS_RESOURCE may: 1024, always allowed. A failed build is
	# no time: its rows stay out of the table.
	bud=(bud --pull=never --isolation chroot --layers -t bench:1
		--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$ctx")
	bms() {
		local t0 t1
		t0=$(date +%s%N)
		if ! buildah "${bopts[@]}" "${bud[@]}" >"$work/bout" 2>&1; then
			echo "bench-build: buildah bud failed: $(tail -n 3 "$work/bout")" >&2
			return 1
		fi
		t1=$(date +%s%N)
		echo $(((t1 - t0) / 1000000))
	}
	bcold=$(bms) || bcold=
	bwarm=$(bms) || bwarm=
	printf '%-28s %8s ms\n' "buildah bud cold" "$bcold" "buildah bud fully cached" "$bwarm"
	[ -z "$bcold" ] || row "build, cold (ms)" "$cold" "buildah bud" "$bcold" "≤ 0.15×"
	[ -z "$bwarm" ] || row "build, fully cached (ms)" "$warm" "buildah bud" "$bwarm" "≤ 0.15×"
	buildah "${bopts[@]}" rm --all >/dev/null 2>&1 || true
	umount -R "$work/buildah" 2>/dev/null || true
else
	echo "buildah not installed: no comparison"
fi
