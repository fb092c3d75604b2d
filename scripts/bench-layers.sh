#!/usr/bin/env bash
# bench-layers.sh — how fast does fs-layer unpack and mount an image?
#
# Usage: sudo scripts/bench-layers.sh       BENCH_RUNS=3, BENCH_MB=230 by default
#
# Makes a multi-layer image of about 250 MB, offline: a busybox root
# filesystem, four layers of random data (BENCH_MB in all) and one layer of
# 20,000 small files; imports it with img-pull into a throw-away store, then
# times, each BENCH_RUNS times from an empty directory (median wall time):
#   fs-layer unpack     every layer into the layer store, digests verified
#   umoci unpack        the same image, into one root filesystem
#   tar -xzf            each layer blob, one after the other, one dir each
# and the time of `fs-layer mount` + `rm` for a one-layer image and for the
# big one, already unpacked: it should not depend on the image's size.
# A benchmark, not a test: it never fails because of the numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
runs=${BENCH_RUNS:-3}
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
	rm -rf "$tmp"
}
trap cleanup EXIT

echo "bench-layers: making the layers in $tmp (${mb} MB of random data, 20,000 small files)" >&2
"$repo/scripts/mk-rootfs.sh" "$tmp/l0" >/dev/null
tar -C "$tmp/l0" -cf "$tmp/l0.tar" .
layers=("$tmp/l0.tar")
for i in 1 2 3 4; do
	mkdir -p "$tmp/l$i/data$i"
	for j in 1 2 3 4 5; do
		head -c "$((mb * 1024 * 1024 / 20))" /dev/urandom >"$tmp/l$i/data$i/blob$j"
	done
	tar -C "$tmp/l$i" -cf "$tmp/l$i.tar" .
	rm -rf "$tmp/l$i"
	layers+=("$tmp/l$i.tar")
done
mkdir -p "$tmp/l5"
for d in $(seq 1 200); do
	mkdir -p "$tmp/l5/small/d$d"
	for f in $(seq 1 100); do
		echo "file $d/$f $RANDOM$RANDOM" >"$tmp/l5/small/d$d/f$f"
	done
done
tar -C "$tmp/l5" -cf "$tmp/l5.tar" .
rm -rf "$tmp/l5" "$tmp/l0"
layers+=("$tmp/l5.tar")
img-pull import "${layers[@]}" bench-big:1 >/dev/null 2>&1
img-pull import "$tmp/l0.tar" bench-small:1 >/dev/null 2>&1
rm -f "${layers[@]}"

ms() { # ms CMD…: wall time of one run, in milliseconds
	local start end
	start=$(date +%s%N)
	"$@" >/dev/null 2>&1
	end=$(date +%s%N)
	echo $(((end - start) / 1000000))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

blobs=()
manifest=$(img-pull inspect bench-big:1 | jq -r '.manifest.layers[].digest')
for d in $manifest; do
	blobs+=("$CTRKIT_ROOT/oci/blobs/sha256/${d#sha256:}")
done
size=$(du -cb "${blobs[@]}" | tail -n 1 | cut -f1)

unpack_fs() { rm -rf "$CTRKIT_ROOT/layers" && fs-layer unpack bench-big:1; }
unpack_umoci() { rm -rf "$tmp/bundle" && umoci unpack --image "$CTRKIT_ROOT/oci:docker.io/library/bench-big:1" "$tmp/bundle"; }
unpack_tar() {
	rm -rf "$tmp/tar" && mkdir "$tmp/tar"
	local i=0 b
	for b in "${blobs[@]}"; do
		i=$((i + 1))
		mkdir "$tmp/tar/$i" && tar -xzpf "$b" -C "$tmp/tar/$i"
	done
}

declare -A t
for tool in fs-layer tar umoci; do
	if [ "$tool" = umoci ] && ! command -v umoci >/dev/null; then
		echo "bench-layers: umoci not installed (apt-get install umoci): skipped" >&2
		continue
	fi
	fn=unpack_${tool//-/_}
	[ "$tool" = fs-layer ] && fn=unpack_fs
	echo "bench-layers: $tool, $runs runs" >&2
	t[$tool]=$(for ((r = 0; r < runs; r++)); do ms "$fn"; done | median)
done
rm -rf "$tmp/bundle" "$tmp/tar"

echo
echo "unpack of bench-big:1: ${#blobs[@]} layers, $((size / 1024 / 1024)) MiB compressed (gzip), $(nproc) CPUs"
printf '%-10s %10s %10s %10s\n' tool "median ms" "× tar" "× umoci"
for tool in fs-layer tar umoci; do
	[ -n "${t[$tool]:-}" ] || continue
	xt=$(awk -v a="${t[$tool]}" -v b="${t[tar]}" 'BEGIN { printf "%.2f", a / b }')
	xu=-
	[ -z "${t[umoci]:-}" ] || xu=$(awk -v a="${t[$tool]}" -v b="${t[umoci]}" 'BEGIN { printf "%.2f", a / b }')
	printf '%-10s %10s %10s %10s\n' "$tool" "${t[$tool]}" "$xt" "$xu"
done
echo "target: fs-layer ≤ 1.3× tar, ≤ 0.3× umoci"

# Mount time, layers already unpacked: one overlay mount whatever the size.
fs-layer unpack bench-big:1 >/dev/null
fs-layer unpack bench-small:1 >/dev/null
mount_ms() {
	local img=$1 id=$2 r
	for ((r = 0; r < 5; r++)); do
		ms fs-layer mount "$img" --name "$id"
		fs-layer rm "$id"
	done | median
}
echo
printf 'mount (unpacked): bench-small:1 (1 layer, 1 MB) %s ms, bench-big:1 (%d layers, %d MiB) %s ms\n' \
	"$(mount_ms bench-small:1 ck-bench-small)" "${#blobs[@]}" "$((size / 1024 / 1024))" "$(mount_ms bench-big:1 ck-bench-big)"
