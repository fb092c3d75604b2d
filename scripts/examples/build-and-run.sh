#!/usr/bin/env bash
# build-and-run.sh — the seed's last diagram in one go: a Dockerfile becomes
# an image (img-build: one layer per RUN and COPY, each cached), and the
# image becomes a container (ctr-run). A second build reuses every layer.
# Offline, no network (--network none), needs root.
#
# Usage: sudo scripts/examples/build-and-run.sh
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$repo/bin:$repo/scripts:$PATH
if [ "$(id -u)" -ne 0 ]; then
	echo "build-and-run: building and running need root (mounts, namespaces): sudo $0" >&2
	exit 1
fi
mk-image.sh busybox:latest

ctx=$(mktemp -d)
tag=ck-example/hello:1
trap 'rm -rf "$ctx"; img-pull rm "$tag" >/dev/null 2>&1 || true' EXIT

cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM busybox:latest
COPY greeting.txt /etc/greeting
RUN echo "built on $(date -u +%F)" > /etc/built
CMD ["sh", "-c", "cat /etc/greeting /etc/built"]
DOCKERFILE
echo "hello from an image ctrkit built" >"$ctx/greeting.txt"

echo "\$ img-build -t $tag CONTEXT"
img-build -t "$tag" "$ctx"
echo "\$ img-build -t $tag CONTEXT   # again: every step comes from the cache"
img-build -t "$tag" "$ctx" 2>&1 | tee "$ctx/second.log" >&2
grep -q CACHED "$ctx/second.log" || { echo "build-and-run: the second build used no cache" >&2; exit 1; }
echo "\$ ctr-run --rm --network none $tag"
ctr-run --rm --network none "$tag"
