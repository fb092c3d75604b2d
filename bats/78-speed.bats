#!/usr/bin/env bats
# Where a run's time goes (issue 17): ctr-run --timings names every step
# it waits for, and the steps --rm runs to undo a container all still
# happen. The numbers themselves are make bench's business, never a test's.

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

@test "ctr-run --rm --timings -m 64m busybox true [a line per stage, ns-enter, each undo, a total; nothing left]" {
	requires root overlay busybox
	run_tool --separate-stderr host ctr-run --rm --timings -m 64m busybox true
	assert_output ''
	for step in '| img-pull ' '| fs-layer mount ' '| cg-limit ' '| net-bridge attach ' \
		'ns-enter (start to exit)' 'rm: net-bridge detach ' 'rm: cg-limit rm ' 'rm: fs-layer rm ' 'total'; do
		assert_stderr_contains "$step"
	done
	# every line of the table ends in a number of milliseconds
	local bad
	bad=$(grep -v '^ *step' <<<"$stderr" | grep -cvE '[0-9]+\.[0-9]$' || true)
	assert_equal "$bad" 0
	# the undo steps, run at once, each did its part: no state, no mount
	assert_equal "$(find "$CTRKIT_STATE" -mindepth 2 -maxdepth 2 -name meta.json | wc -l)" 0
	assert_equal "$(find "$CTRKIT_STATE" -mindepth 2 -maxdepth 2 -name resources.json | wc -l)" 0
	assert_equal "$(grep -cE " ($CTRKIT_ROOT|$CTRKIT_STATE)/" /proc/self/mountinfo || true)" 0
}
