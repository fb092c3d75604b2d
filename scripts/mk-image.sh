#!/usr/bin/env bash
# mk-image.sh — make the offline default image, busybox:latest, from Debian's
# busybox-static: no registry, no internet.
#
# Usage: scripts/mk-image.sh [NAME[:TAG]]      (default busybox:latest)
#
# The same three steps by hand:
#
#   scripts/mk-rootfs.sh DIR                   # /bin/busybox and its applets
#   tar -C DIR -cf busybox.tar .               # the root filesystem, one tar
#   img-pull import --cmd=sh busybox.tar busybox:latest   # one layer, CMD sh
#
# The image goes into the store img-pull uses: CTRKIT_ROOT if set, else
# /var/lib/ctrkit.  If the store already has NAME, nothing is done, so the
# script is cheap to run before every demo.  It prints nothing unless it
# fails.
set -euo pipefail

usage() { echo "usage: $0 [NAME[:TAG]]" >&2; exit 2; }
[ "$#" -le 1 ] || usage
name=${1:-busybox:latest}
case $name in
-*) usage ;;
*:*) ;;
*) name=$name:latest ;;
esac

repo=$(cd "$(dirname "$0")/.." && pwd)
PATH=$repo/bin:$PATH
command -v img-pull >/dev/null || { echo "mk-image: img-pull not found: run 'make build'" >&2; exit 1; }

# inspect reads the store only (never a registry) and fails when the name is
# not there; it understands short names (busybox = docker.io/library/busybox).
if img-pull inspect "$name" >/dev/null 2>&1; then
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ck-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# mk-rootfs.sh says what to install when busybox-static is missing.
"$repo/scripts/mk-rootfs.sh" "$tmp/rootfs"
# Numeric owners, so the layer does not depend on this host's user names.
tar --numeric-owner -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .
# From inside $tmp, so the layer's history reads "img-pull import busybox.tar".
if [ -n "${CTRKIT_ROOT:-}" ]; then CTRKIT_ROOT=$(realpath -m "$CTRKIT_ROOT"); export CTRKIT_ROOT; fi
if ! out=$(cd "$tmp" && img-pull import --cmd=sh busybox.tar "$name" 2>&1); then
	printf '%s\n' "$out" >&2
	echo "mk-image: img-pull import $name failed" >&2
	exit 1
fi
