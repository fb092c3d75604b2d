#!/usr/bin/env bash
# memory-limit.sh — a container under `-m 16m` asks for 64 MiB and the
# kernel's OOM killer ends it: exit status 137 (128 + SIGKILL), and the
# cgroup's counters say why.  Offline, no network (--network none), needs
# root.
#
# Usage: sudo scripts/examples/memory-limit.sh
#
# What happens: cg-limit writes 16 MiB into the container's cgroup
# (memory.max on cgroup v2, memory.limit_in_bytes on v1); dd allocates one
# 64 MiB buffer and touches it; when the cgroup cannot reclaim enough, the
# kernel kills a process inside it — only inside it — and counts the kill
# (memory.events "oom_kill" on v2, memory.oom_control on v1).
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$repo/bin:$repo/scripts:$PATH
if [ "$(id -u)" -ne 0 ]; then
	echo "memory-limit: containers need root (namespaces, cgroups, mounts): sudo $0" >&2
	exit 1
fi
mk-image.sh busybox:latest

name=ck-hog-$$
trap 'ctr-run rm -f "$name" >/dev/null 2>&1 || true' EXIT

echo "\$ ctr-run --name $name -m 16m --network none busybox dd if=/dev/zero of=/dev/null bs=64M count=1"
status=0
ctr-run --name "$name" -m 16m --network none busybox dd if=/dev/zero of=/dev/null bs=64M count=1 || status=$?
echo "exit status $status"
if [ "$status" -ne 137 ]; then
	echo "memory-limit: expected 137 (killed by SIGKILL), got $status" >&2
	exit 1
fi

# The container has exited, but until `ctr-run rm` its cgroup is kept, and
# with it what the kernel counted: the peak at the limit, one OOM kill.
echo "\$ ctr-run stats $name"
ctr-run stats "$name"
ctr-run stats "$name" | grep -Eq '[1-9][0-9]* OOM kill' || { echo "memory-limit: stats show no OOM kill" >&2; exit 1; }
echo "\$ ctr-run rm $name"
ctr-run rm "$name"
