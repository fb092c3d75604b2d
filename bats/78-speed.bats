#!/usr/bin/env bats
# Where a run's time goes (issue 17): ctr-run --timings names every step
# it waits for, and the steps --rm runs to undo a container all still
# happen, by the stages that held what they made (internal/hold), or after
# a crash by ctr-run gc. The numbers themselves are make bench's business,
# never a test's.

load helpers

setup_file() {
	load helpers
	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root CTRKIT_STATE=$BATS_FILE_TMPDIR/state
	make_host_netns
	import_busybox
}

teardown_file() {
	ip netns del "$HOSTNS" 2>/dev/null || true
}

setup() {
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
	cg2_made=
}

teardown() {
	[ -z "$cg2_made" ] || rmdir "$cg2_made" 2>/dev/null || true
}

@test "ctr-run --rm --timings -m 64m busybox true [a line per stage, ns-enter, the held stages' removal, a total; nothing left]" {
	requires root overlay busybox
	run_tool --separate-stderr host ctr-run --rm --timings -m 64m busybox true
	assert_output ''
	for step in '| img-pull ' '| fs-layer mount ' '| cg-limit ' '| net-bridge attach ' \
		'ns-enter (start to exit)' 'rm: the held stages, at once' 'total'; do
		assert_stderr_contains "$step"
	done
	# the held stages removed it all: no rm command had to start
	refute_stderr_contains 'rm: fs-layer rm'
	assert_stderr_contains 'step  from ms'
	# every line of the table ends in a number of milliseconds (a stage's
	# notes come before it: net-bridge's on IPv4 forwarding, say)
	local bad
	bad=$(sed -n '/^ *step  from ms/,$p' <<<"$stderr" | grep -v '^ *step' | grep -cvE '[0-9]+\.[0-9]$' || true)
	assert_equal "$bad" 0
	# the undo steps, run at once, each did its part: no state, no mount
	assert_equal "$(find "$CTRKIT_STATE" -mindepth 2 -maxdepth 2 -name meta.json | wc -l)" 0
	assert_equal "$(find "$CTRKIT_STATE" -mindepth 2 -maxdepth 2 -name resources.json | wc -l)" 0
	assert_equal "$(grep -cE " ($CTRKIT_ROOT|$CTRKIT_STATE)/" /proc/self/mountinfo || true)" 0
}

# held ID: the command lines of container ID's stages still holding (they
# name it): found, never killed, by what they run.
held() {
	ps -eo args= | grep -E "^\S*(fs-layer mount|cg-limit|net-bridge attach) .*$1 .*--hold 3" || true
}

none_held() { [ -z "$(held "$1")" ]; }

# cgroup_empty DIR: no process left in the cgroup.
cgroup_empty() { [ -z "$(cat "$1/cgroup.procs")" ]; }

@test "kill -9 ctr-run --rm while its container runs; ctr-run gc [the held stages end, leaving what they made; gc removes it]" {
	requires root overlay busybox
	local out=$BATS_TEST_TMPDIR/out id
	host ctr-run --rm -m 64m busybox sh -c 'echo ready; sleep 100' >"$out" 2>&1 3>&- &
	local pid=$!
	wait_for grep -qx ready "$out"
	id=$(basename "$(dirname "$(ls "$CTRKIT_STATE"/*/meta.json)")")
	assert_equal "$(held "$id" | wc -l)" 3
	kill -KILL "$pid"
	# end of file on --hold: each stage leaves, and what it made stays
	wait_for none_held "$id"
	run_tool test -d "/sys/fs/cgroup/pids/ctrkit/$id"
	run_tool test -e "/run/netns/ck-$id"
	# once the container has ended (its process by the PID it recorded),
	# gc removes it all
	kill -KILL "$(cat "$CTRKIT_STATE/$id/pid")"
	wait_for cgroup_empty "/sys/fs/cgroup/pids/ctrkit/$id"
	run_tool host ctr-run gc
	assert_equal "$(find "$CTRKIT_STATE" -mindepth 2 -maxdepth 2 -name meta.json | wc -l)" 0
	run_tool test ! -e "/sys/fs/cgroup/pids/ctrkit/$id"
	run_tool test ! -e "/run/netns/ck-$id"
	assert_equal "$(grep -cE " ($CTRKIT_ROOT|$CTRKIT_STATE)/" /proc/self/mountinfo || true)" 0
}

# A process moved by its PID (echo PID > cgroup.procs) waits for an RCU
# grace period; one that moves itself while it is one thread does not
# (ns-enter/setns/setns.go): stage 1 does, in C, before its Go runtime.
@test "ctr-run -d --init -m 64m busybox sleep 100 [the init moved itself in: every thread of it in the container's cgroup; --explain shows echo 0 > tasks]" {
	requires root overlay busybox
	[ -d /sys/fs/cgroup/memory ] || skip "no cgroup v1 hierarchy: v2 moves the process by its PID"
	local id pid t
	id=$(host ctr-run run -d --init -m 64m busybox sleep 100)
	pid=$(cat "$CTRKIT_STATE/$id/pid")
	run_tool cat "/proc/$pid/comm"
	assert_output ns-enter-init
	# the Go runtime's threads were born inside: none is left behind
	assert [ "$(ls "/proc/$pid/task" | wc -l)" -gt 1 ]
	for t in /proc/"$pid"/task/*; do
		run_tool grep -E '^[0-9]+:(memory|pids):' "$t/cgroup"
		assert_line --regexp "^[0-9]+:memory:/ctrkit/$id\$"
		assert_line --regexp "^[0-9]+:pids:/ctrkit/$id\$"
	done
	run_tool host ctr-run rm -f "$id"
	run_tool --separate-stderr host ctr-run --rm --explain -m 64m busybox true
	assert_stderr_contains "echo 0 > /sys/fs/cgroup/memory/ctrkit/"
	refute_stderr_contains "cgroup.procs"
}

# cgroup v2 has no tasks file: there clone3's CLONE_INTO_CGROUP makes stage
# 1 in the cgroup (ns-enter/container/cgroup.go, bornCgroup). On a hybrid
# host the cgroup2 tree serves no limit, but the kernel path is the same.
@test "ns-enter --spec, linux.cgroupsPath in a cgroup2 tree [stage 1 born there: clone3 CLONE_INTO_CGROUP, no PID written]" {
	requires root busybox
	local cg2 name dir
	cg2=$(findmnt -rn -t cgroup2 -o TARGET | head -n 1)
	[ -n "$cg2" ] || skip "no cgroup2 mount"
	name=$(safename)
	dir=$cg2/$name
	mkdir "$dir"
	cg2_made=$dir
	make_rootfs "$BATS_TEST_TMPDIR/rootfs"
	ns-enter spec --pid --ipc --uts --rootfs "$BATS_TEST_TMPDIR/rootfs" -- cat /proc/self/cgroup |
		jq --arg p "/$name" '.linux.cgroupsPath = $p' >"$BATS_TEST_TMPDIR/config.json"
	run_tool --separate-stderr ns-enter --explain --spec "$BATS_TEST_TMPDIR/config.json"
	assert_line "0::/$name"
	assert_stderr_contains "clone3(CLONE_INTO_CGROUP, open(\"$dir\")) made stage 1 there"
	refute_stderr_contains "write(\"$dir/cgroup.procs\""
}
