#!/usr/bin/env bash
# run.sh — `ctr-run IMAGE CMD` by hand: the same five stages ctr-run runs, as
# a shell pipeline you can read, change and re-run one line at a time.
#
# Usage: scripts/run.sh [-m SIZE] [--cpus N] [-p HOSTPORT:PORT] [--network bridge|host|none]
#                       IMAGE [CMD ARGS…]
#
# Needs root.  With the bridge network (the default) it makes the bridge
# ctrkit0, a veth pair and nftables rules in the network namespace it runs
# in; to keep them off your real network, run it in one of its own:
#
#   sudo ip netns add ck-try
#   sudo nsenter --net=/run/netns/ck-try scripts/run.sh busybox sh
#   sudo ip netns del ck-try
#
# The image must be in the store (scripts/mk-image.sh makes busybox:latest);
# img-pull --pull missing fetches it from its registry only when it is not.
# `ctr-run --dry-run IMAGE CMD` prints the same pipeline.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
PATH=$repo/bin:$PATH

usage() { echo "usage: $0 [-m SIZE] [--cpus N] [-p HOSTPORT:PORT] [--network MODE] IMAGE [CMD ARGS…]" >&2; exit 2; }
limits=() net=(--network bridge)
while [ "$#" -gt 0 ]; do
	case $1 in
	-m | --memory) [ "$#" -ge 2 ] || usage; limits+=(--memory "$2"); shift 2 ;;
	--cpus) [ "$#" -ge 2 ] || usage; limits+=(--cpus "$2"); shift 2 ;;
	-p | --publish) [ "$#" -ge 2 ] || usage; net+=(-p "$2"); shift 2 ;;
	--network) [ "$#" -ge 2 ] || usage; net[1]=$2; shift 2 ;;
	--) shift; break ;;
	-*) usage ;;
	*) break ;;
	esac
done
[ "$#" -ge 1 ] || usage
image=$1
shift

if [ "$(id -u)" -ne 0 ]; then
	echo "run.sh: a container needs root (namespaces, cgroups, mounts): sudo $0 …" >&2
	exit 1
fi

# The container's id: 12 hex digits, like docker's short ids.  Every stage
# names what it makes after it: the mount STATE/ID/rootfs, the cgroup
# ctrkit/ID, the network namespace ck-ID and the host's end of the veth, ck-ID.
id=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
state=${CTRKIT_STATE:-/run/ctrkit}
mkdir -p "$state/$id"

# Teardown: each stage's undo, in the reverse order of the stages.  Each one
# skips what is already gone, so it is also right after a stage failed half
# way.  ctr-run rm runs the same three commands.
teardown() {
	local rc=$?
	net-bridge detach "$id" || true # veth, address, port rules, netns ck-ID
	cg-limit rm "$id" 2>/dev/null || true # the cgroup (it is empty now)
	fs-layer rm -f "$id" || true      # unmount the overlay, delete the upper dir
	rm -rf "${state:?}/$id"
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Stages 1-4 each read the OCI runtime spec from stdin, fill in their part
# and write it on.  Put `| tee /dev/stderr` between two stages, or `| jq .`,
# to watch the document grow.
#
#   the seed       only the container's id, in an annotation
#   img-pull       process.args, env, cwd, user from the image's config
#   fs-layer       root.path: the image's layers stacked with overlayfs
#   cg-limit       linux.cgroupsPath and linux.resources; the cgroup is made
#   net-bridge     a network namespace wired to the bridge, and its path
printf '{"ociVersion": "1.2.1", "annotations": {"ctrkit.id": "%s"}}\n' "$id" |
	img-pull --pull missing "$image" |
	fs-layer mount --name "$id" |
	cg-limit --name "$id" "${limits[@]}" |
	net-bridge attach --id "$id" "${net[@]}" >"$state/$id/config.json"

# Stage 5: ns-enter, our runc, runs the document: new pid, ipc, uts and mount
# namespaces (the network one net-bridge made is joined), the cgroup,
# pivot_root into root.path, /proc and /dev, the host name, then execve of
# CMD (or the image's, when none is given).  Not `exec`: the teardown must
# run when the container ends; it exits with the container's status.
ns-enter --spec "$state/$id/config.json" --pid --ipc --uts --hostname "$id" ${1+-- "$@"}
