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
	# every line of the table ends in a number of milliseconds
	local bad
	bad=$(grep -v '^ *step' <<<"$stderr" | grep -cvE '[0-9]+\.[0-9]$' || true)
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
