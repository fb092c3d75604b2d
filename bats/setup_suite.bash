# shellcheck shell=bash
# setup_suite.bash — runs once around the whole bats suite (bats >= 1.7).
#
# The binaries are built before bats starts (make bats / scripts/test.sh);
# this only gives the suite its own image store and state directory, so the
# host's /var/lib/ctrkit and /run/ctrkit are never touched, and records what
# already existed, so that the leak check at the end reports only what the
# tests left behind.

setup_suite() {
	load helpers

	export CTRKIT_ROOT=$BATS_SUITE_TMPDIR/root
	export CTRKIT_STATE=$BATS_SUITE_TMPDIR/state
	mkdir -p "$CTRKIT_ROOT" "$CTRKIT_STATE"

	export CTRKIT_LEAK_BASELINE=$BATS_SUITE_TMPDIR/leak-baseline
	leak_check --list >"$CTRKIT_LEAK_BASELINE"
}

teardown_suite() {
	load helpers
	leak_check
}
