#!/usr/bin/env bash
# bench-layers.sh — how fast does fs-layer unpack and mount an image?
#
# Usage: sudo scripts/bench-layers.sh       BENCH_RUNS=5, BENCH_MB=230 by default
#
# Makes two images, offline: bench-big:1, a busybox root filesystem, four
# layers of random data (BENCH_MB in all) and one layer of 20,000 small
# files; bench-small:1, busybox, 2 × 40 MB of random data and 20,000 small
# files. Imports them with img-pull into a throw-away store, then times,
# each BENCH_RUNS times into a new directory (median wall time):
#   fs-layer unpack     every layer into the layer store, digests verified
#   umoci unpack        the same image, into one root filesystem
#   tar -xzf            each layer blob, one after the other, one dir each
# and the time of `fs-layer mount` + `rm` for a one-layer image and for the
# big one, already unpacked: it should not depend on the image's size.
# A benchmark, not a test: it never fails because of the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
. "$repo/scripts/bench-lib.sh"
runs=${BENCH_RUNS:-5}
mb=${BENCH_MB:-230}

if [ "$(id -u)" -ne 0 ]; then
	echo "bench-layers: unpacking owners and mounting overlay need root: sudo $0" >&2
	exit 1
fi
PATH=$repo/bin:$PATH

tmp=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/ck-bench-layers.XXXXXX")
export CTRKIT_ROOT=$tmp/root CTRKIT_STATE=$tmp/state
cleanup() {
	fs-layer rm -f ck-bench-small ck-bench-big 2>/dev/null || true
	discard "$tmp"
}
trap cleanup EXIT

# row FIGURE CTRKIT PEER PEER-VALUE TARGET: one line of make bench's table.
row() { [ -z "${BENCH_TABLE:-}" ] || printf '%s|%s|%s|%s|%s\n' "$@" >>"$BENCH_TABLE"; }

# layer DIR: the tar of DIR's contents, appended to layers[]. DIR stays
# until the end, as every run's output does (below).
layer() { tar -C "$1" -cf "$1.tar" . && layers+=("$1.tar"); }
random_layer() { # random_layer DIR MB FILES
	mkdir -p "$1/data"
	for ((j = 1; j <= $3; j++)); do head -c "$(($2 * 1024 * 1024 / $3))" /dev/urandom >"$1/data/blob$j"; done
	layer "$1"
}
small_layer() { # small_layer DIR: 20,000 small files in 200 directories
	local d f
	for d in $(seq 1 200); do
		mkdir -p "$1/small/d$d"
		for f in $(seq 1 100); do echo "file $d/$f $RANDOM$RANDOM" >"$1/small/d$d/f$f"; done
	done
	layer "$1"
}

echo "bench-layers: making two images in $tmp: busybox + 4 layers of ${mb} MB random data + 20,000 small files; busybox + 2 × 40 MB + 20,000 small files" >&2
"$repo/scripts/mk-rootfs.sh" "$tmp/l0" >/dev/null
tar -C "$tmp/l0" -cf "$tmp/l0.tar" .
base=$tmp/l0.tar
layers=("$base")
for i in 1 2 3 4; do random_layer "$tmp/big$i" "$((mb / 4))" 5; done
small_layer "$tmp/small1"
img-pull import "${layers[@]}" bench-big:1 >/dev/null 2>&1
layers=("$base")
for i in 1 2; do random_layer "$tmp/mix$i" 40 4; done
small_layer "$tmp/small2"
img-pull import "${layers[@]}" bench-small:1 >/dev/null 2>&1
img-pull import "$base" bench-one:1 >/dev/null 2>&1
rm -f "$tmp"/*.tar

ms() { # ms CMD…: wall time of one run, in milliseconds
	local start end
	start=$(date +%s%N)
	"$@" >/dev/null 2>&1
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# Every run unpacks into a directory of its own, and nothing is deleted
# until the end (discard, in bench-lib.sh): this file system may have no
# journal, and then ext4 skips, for each new inode, the inodes deleted in
# the last minutes (recently_deleted() in fs/ext4/ialloc.c). Removing the
# first image's 300,000 files before the second image's runs made
# fs-layer's 2.7 times slower (684 → 1830 ms) and tar's 2.0 times.
unpack_fs() { [ ! -d "$CTRKIT_ROOT/layers" ] || mv "$CTRKIT_ROOT/layers" "$old/layers.$run"; fs-layer unpack "$img"; }
unpack_umoci() { umoci unpack --image "$CTRKIT_ROOT/oci:docker.io/library/$img" "$old/umoci.$run"; }
unpack_tar() {
	local i=0 b
	for b in "${blobs[@]}"; do
		i=$((i + 1))
		mkdir -p "$old/tar.$run/$i" && tar -xzpf "$b" -C "$old/tar.$run/$i"
	done
}

for img in bench-big:1 bench-small:1; do
	blobs=()
	for d in $(img-pull inspect "$img" | jq -r '.manifest.layers[].digest'); do
		blobs+=("$CTRKIT_ROOT/oci/blobs/sha256/${d#sha256:}")
	done
	size=$(du -cb "${blobs[@]}" | tail -n 1 | cut -f1)
	files=$(for b in "${blobs[@]}"; do tar -tzf "$b"; done | wc -l)
	old=$tmp/old/${img%%:*}
	mkdir -p "$old"
	declare -A t=()
	# Interleaved, so that the load of the other users of the machine falls
	# on all three alike. Each run starts after a sync (untimed): none of
	# the tools syncs, and the hundreds of megabytes the run before left
	# dirty would otherwise be written back during this one.
	for ((run = 0; run < runs; run++)); do
		for tool in fs tar umoci; do
			if [ "$tool" = umoci ] && ! command -v umoci >/dev/null; then continue; fi
			sync
			t[$tool]+="$(ms "unpack_$tool") "
		done
	done
	mv "$CTRKIT_ROOT/layers" "$old/layers.last"
	for tool in fs tar umoci; do t[$tool]=$(echo "${t[$tool]:-}" | tr ' ' '\n' | grep . | median); done
	shape="unpack $img: ${#blobs[@]} layers, $((size / 1024 / 1024)) MiB gzip, $files entries"
	echo
	echo "$shape, $(nproc) CPUs, median of $runs"
	printf '%-10s %10s %10s %10s\n' tool "median ms" "× tar" "× umoci"
	for tool in fs tar umoci; do
		[ -n "${t[$tool]:-}" ] || continue
		xt=$(awk -v a="${t[$tool]}" -v b="${t[tar]}" 'BEGIN { printf "%.2f", a / b }')
		xu=-
		[ -z "${t[umoci]:-}" ] || xu=$(awk -v a="${t[$tool]}" -v b="${t[umoci]}" 'BEGIN { printf "%.2f", a / b }')
		printf '%-10s %10s %10s %10s\n' "$tool" "${t[$tool]}" "$xt" "$xu"
	done
	row "$shape (ms)" "${t[fs]}" "tar -xzf" "${t[tar]}" "≤ 0.8×"
	[ -z "${t[umoci]:-}" ] || row "$shape (ms)" "${t[fs]}" "umoci unpack" "${t[umoci]}" "≤ 0.5×"
done
echo "target: fs-layer ≤ 0.8× tar -xzf, ≤ 0.5× umoci"

# Mount time, layers already unpacked: one overlay mount whatever the size.
fs-layer unpack bench-big:1 >/dev/null
fs-layer unpack bench-one:1 >/dev/null
mount_ms() {
	local img=$1 id=$2 r
	for ((r = 0; r < 5; r++)); do
		ms fs-layer mount "$img" --name "$id"
		fs-layer rm "$id"
	done | median
}
echo
printf 'mount (unpacked): bench-one:1 (1 layer, 1 MB) %s ms, bench-big:1 (6 layers) %s ms\n' \
	"$(mount_ms bench-one:1 ck-bench-small)" "$(mount_ms bench-big:1 ck-bench-big)"
