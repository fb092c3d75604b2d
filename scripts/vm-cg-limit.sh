#!/bin/sh
# vm-cg-limit.sh — the cg-limit checks that run inside the cgroup VM
# (make test-cgroups), once on cgroup v2 and once on cgroup v1.  Busybox sh
# only: the guest has busybox and the static cg-limit in /job, nothing else.
# Prints one "ok"/"not ok" line per check (TAP); exits 1 if any failed.
set -u
PATH=/job:$PATH
# shellcheck source=scripts/vm-tap.sh
. /job/vm-tap.sh

mode=$(cg-limit info --format json | sed -n 's/.*"mode": "\(.*\)".*/\1/p')
echo "# cg-limit info: mode $mode, kernel $(uname -r)"

# memory: 64 MiB of dd buffer under a 32 MiB limit is OOM-killed.
cg-limit run -m 32m -- dd if=/dev/zero of=/dev/null bs=64M count=1 2>/tmp/err
rc=$?
check "run -m 32m dd bs=64M: OOM kill, exit 137 (got $rc)" [ "$rc" = 137 ]
check "run reports the OOM kill" grep -q "OOM killer" /tmp/err

# run starts the command inside: clone3's CLONE_INTO_CGROUP on v2, a gate
# that moves itself (echo 0 > tasks) on v1; no PID is written anywhere.
cg-limit --explain run -m 32m -- cat /proc/self/cgroup >/tmp/out 2>/tmp/err
check "run: the command starts in its cgroup ($(grep -c /ctrkit/ck- /tmp/out) lines)" grep -q '/ctrkit/ck-' /tmp/out
check "run: no PID written into cgroup.procs" sh -c '! grep -q cgroup.procs /tmp/err'
if [ "$mode" = v2 ]; then
	check "run on v2: clone3(CLONE_INTO_CGROUP)" grep -q CLONE_INTO_CGROUP /tmp/err
fi

cg-limit create oom -m 32m >/dev/null
sh -c 'cg-limit add oom $$ && exec dd if=/dev/zero of=/dev/null bs=64M count=1' 2>/dev/null
kills=$(cg-limit stats oom --format json | json_num oom_kills)
check "stats counts the OOM kill (oom_kills=$kills)" [ "${kills:-0}" -ge 1 ]
cg-limit rm oom

# update: a waiting allocation succeeds once the limit is raised live.
cg-limit create grow -m 16m >/dev/null
sh -c 'cg-limit add grow $$ && while [ ! -e /tmp/go ]; do sleep 0.1; done; exec dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null' &
pid=$!
sleep 1
cg-limit update grow -m 128m
touch /tmp/go
wait "$pid"
rc=$?
check "update -m 128m lets a 48M allocation through (exit $rc)" [ "$rc" = 0 ]
cg-limit rm grow

# cpu: a busy loop for 2 s under --cpus 0.25 gets about 0.5 CPU-seconds.
cg-limit create quota --cpus 0.25 >/dev/null
timeout 2 sh -c 'cg-limit add quota $$ && exec sh -c "while :; do :; done"'
cg-limit stats quota --format json >/tmp/stats
usage=$(json_num usage_usec </tmp/stats)
thr=$(json_num nr_throttled </tmp/stats)
check "--cpus 0.25 for 2 s: 0.3-0.75 CPU-s used (${usage}µs)" test "${usage:-0}" -ge 300000 -a "${usage:-0}" -le 750000
check "--cpus 0.25: throttled in $thr periods" [ "${thr:-0}" -gt 5 ]
cg-limit rm quota

# cpu shares: two busy loops on one CPU, shares 1024 and 256, split it ~4:1.
cpu=$(cut -d- -f2 /sys/devices/system/cpu/online | cut -d, -f1)
cg-limit create hi --cpu-shares 1024 --cpuset-cpus "$cpu" >/dev/null
cg-limit create lo --cpu-shares 256 --cpuset-cpus "$cpu" >/dev/null
sh -c 'cg-limit add hi $$ && exec sh -c "while :; do :; done"' &
p_hi=$!
sh -c 'cg-limit add lo $$ && exec sh -c "while :; do :; done"' &
p_lo=$!
sleep 0.5
h0=$(cg-limit stats hi --format json | json_num usage_usec)
l0=$(cg-limit stats lo --format json | json_num usage_usec)
sleep 2
h1=$(cg-limit stats hi --format json | json_num usage_usec)
l1=$(cg-limit stats lo --format json | json_num usage_usec)
kill "$p_hi" "$p_lo"
wait "$p_hi" "$p_lo" 2>/dev/null
dh=$((h1 - h0)) dl=$((l1 - l0))
[ "$dl" -gt 0 ] || dl=1
ratio=$((dh * 100 / dl))
check "--cpu-shares 1024 / 256 on CPU $cpu: ${dh}µs / ${dl}µs, ratio $ratio% (250-600)" test "$ratio" -ge 250 -a "$ratio" -le 600
cg-limit rm hi lo

# cpuset
cpus=$(cg-limit run --cpuset-cpus 1 -- grep Cpus_allowed_list /proc/self/status | awk '{print $2}')
check "--cpuset-cpus 1: Cpus_allowed_list is $cpus" [ "$cpus" = 1 ]

# pids: the sixth fork fails.
cg-limit run --pids-limit 5 -- sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait' 2>/tmp/err
rc=$?
check "--pids-limit 5: forking past it fails (exit $rc)" [ "$rc" != 0 ]

# freeze, thaw, kill
cg-limit create ice >/dev/null
# The counter is renamed into place: a read between a truncation and
# its write would find the file empty.
sh -c 'cg-limit add ice $$ && i=0 && while :; do i=$((i + 1)); echo $i >/tmp/count.new; mv /tmp/count.new /tmp/count; sleep 0.05; done' &
pid=$!
sleep 1
cg-limit freeze ice
a=$(cat /tmp/count)
sleep 1
b=$(cat /tmp/count)
check "freeze: the counter stops ($a = $b)" [ "$a" = "$b" ]
cg-limit thaw ice
sleep 1
c=$(cat /tmp/count)
check "thaw: the counter goes on ($c > $b)" [ "$c" -gt "$b" ]
cg-limit kill ice
wait "$pid"
rc=$?
check "kill: the counter ends with SIGKILL (exit $rc)" [ "$rc" = 137 ]
cg-limit rm ice

# net_prio: only on v1.
if [ "$mode" = v2 ]; then
	cg-limit create prio --net-prio lo:5 2>/tmp/err
	rc=$?
	check "v2: --net-prio is refused, with a reason (exit $rc)" grep -q "cgroup v2 has no such controller" /tmp/err
else
	cg-limit create prio --net-prio lo:5 >/dev/null
	check "v1: --net-prio lo:5 lands in net_prio.ifpriomap" grep -q "^lo 5" /sys/fs/cgroup/net_prio/ctrkit/prio/net_prio.ifpriomap
	cg-limit rm prio
fi

# devices: v1 writes devices.deny/devices.allow, v2 attaches an eBPF
# program; either way a rule decides which device nodes open.
cg-limit run --device-cgroup-rule 'c 1:3 rwm' -- sh -c 'echo x >/dev/null && echo null-ok && head -c1 /dev/zero' >/tmp/out 2>/tmp/err
rc=$?
check "--device-cgroup-rule 'c 1:3 rwm': /dev/zero is refused (exit $rc)" grep -q "Operation not permitted" /tmp/err
check "--device-cgroup-rule 'c 1:3 rwm': /dev/null still opens" grep -q null-ok /tmp/out
echo '{"ociVersion": "1.0.2", "linux": {"resources": {"devices": [{"allow": true, "access": "rwm"}, {"allow": false, "type": "c", "major": 1, "minor": 5, "access": "rwm"}]}}}' |
	cg-limit --name nozero >/dev/null
sh -c 'cg-limit add nozero $$ && exec sh -c "echo x >/dev/null && echo null-ok && head -c1 /dev/zero"' >/tmp/out 2>/tmp/err
check "a deny rule for c 1:5 in linux.resources.devices: /dev/zero refused" grep -q "Operation not permitted" /tmp/err
check "a deny rule for c 1:5: /dev/null still opens" grep -q null-ok /tmp/out
cg-limit rm nozero
check "--privileged: /dev/zero opens" sh -c 'cg-limit run --privileged -- head -c1 /dev/zero >/dev/null'

# a bad limit leaves nothing behind
cg-limit create half --cpuset-cpus 0 --cpu-shares 1 2>/dev/null
check "a bad --cpu-shares makes no cgroup" [ -z "$(cg-limit ls)" ]
left=$(find /sys/fs/cgroup -name ctrkit 2>/dev/null)
check "nothing left under /sys/fs/cgroup: '$left'" [ -z "$left" ]

echo "1..$n"
[ "$failed" = 0 ]
