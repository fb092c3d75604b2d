#!/bin/sh
# vm-ctr-run.sh — the whole ctr-run pipeline inside the cgroup VM (make
# test-cgroups), once on cgroup v2 and once on cgroup v1: img-pull, fs-layer
# (overlay), cg-limit, net-bridge and ns-enter on a kernel that is not the
# build machine's, with the modules a container needs and no others (no
# xfrm_user). Busybox sh only: /job holds the binaries and store/, an image
# store with busybox:latest (scripts/mk-image.sh). Prints TAP; exits 1 if a
# check failed.
set -u
PATH=/job:$PATH
CTRKIT_ROOT=/job/store CTRKIT_STATE=/run/ctrkit
export CTRKIT_ROOT CTRKIT_STATE
# shellcheck source=scripts/vm-tap.sh
. /job/vm-tap.sh
started=$(cut -d" " -f1 /proc/uptime)
lap() { echo "# $(awk -v s="$started" '{ printf "%.1f", $1 - s }' /proc/uptime) s: $1"; }
echo "# ctr-run in a guest: cgroup $(cg-limit info --format json | sed -n 's/.*"mode": "\(.*\)".*/\1/p'), kernel $(uname -r)"

# run: the status passes through, --network none.
# shellcheck disable=SC2016 # $(hostname) runs in the container
out=$(ctr-run --rm --network none busybox sh -c 'echo "hello from $(hostname)"; exit 3' 2>/tmp/err)
rc=$?
check "run --rm --network none: exit 3 passes through (got $rc)" [ "$rc" = 3 ]
check "run --rm --network none: the container's output ($out)" [ "${out#hello from }" != "$out" ]
[ "$rc" = 3 ] || cat /tmp/err
lap "run"

# The container's process starts in its cgroup without a PID written into
# cgroup.procs for a hierarchy that lets it be born there: on v2, clone3's
# CLONE_INTO_CGROUP; on v1, stage 1 writes 0 to each tasks file.
id=$(ctr-run --explain -d --network none busybox sleep 60 2>/tmp/err)
pid=$(cat "$CTRKIT_STATE/$id/pid" 2>/dev/null)
check "run -d: the container's process is in its cgroup ($(grep -c "/ctrkit/$id" "/proc/$pid/cgroup" 2>/dev/null) lines)" grep -q "/ctrkit/$id" "/proc/$pid/cgroup"
check "run -d: no PID written into cgroup.procs" sh -c '! grep -q "write(\"[^\"]*/cgroup.procs" /tmp/err'
if cg-limit info --format json | grep -q '"mode": "v2"'; then
	check "run -d on v2: stage 1 born in its cgroup" grep -q CLONE_INTO_CGROUP /tmp/err
fi
ctr-run rm -f "$id" >/dev/null 2>&1
lap "run -d, its cgroup"

# OOM kill: 64 MiB of dd buffer under -m 32m.
ctr-run --rm --network none -m 32m busybox dd if=/dev/zero of=/dev/null bs=64M count=1 2>/tmp/err
rc=$?
check "run -m 32m dd bs=64M: OOM-killed, exit 137 (got $rc)" [ "$rc" = 137 ]
lap "OOM"

# -d, exec, stats, rm -f, on the bridge with a published port.
id=$(ctr-run -d --name web -m 64m -p 8080:80 busybox httpd -f -p 80 -h /etc 2>/tmp/err)
check "run -d --name web -p 8080:80 httpd: an id ($id)" [ -n "$id" ]
[ -n "$id" ] || cat /tmp/err
comm=$(ctr-run exec web cat /proc/1/comm 2>&1)
check "exec web: PID 1 in there is httpd ($comm)" [ "$comm" = httpd ]
lap "run -d, exec"
page=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
	page=$(wget -qO- http://127.0.0.1:8080/hostname 2>/dev/null) && break
	sleep 0.2
done
check "the published port answers from the host ($page)" [ -n "$page" ]
ctr-run stats web >/tmp/stats 2>&1
check "stats web: a memory line" grep -qi "mem" /tmp/stats
ctr-run rm -f web >/dev/null 2>/tmp/err
check "rm -f web" [ -z "$(ctr-run ps -a 2>&1 | sed 1d)" ]
lap "port, stats, rm"

# Nothing left: no container cgroup, overlay mount, namespace or veth.
left=$(find /sys/fs/cgroup -path '*ctrkit/*' -type d 2>/dev/null)
left="$left$(grep overlay /proc/mounts)$(ls /run/netns 2>/dev/null)$(ip -o link | grep -o 'ck-[^:@]*')"
check "nothing left: '$left'" [ -z "$left" ]

lap "the pipeline checks, in all"
echo "1..$n"
[ "$failed" = 0 ]
