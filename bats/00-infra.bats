#!/usr/bin/env bats
# The test helpers themselves: what every other test file relies on.

load helpers

@test "run_tool true" {
	run_tool true
	assert_output ''
}

@test "run_tool --status 3 sh -c 'exit 3'" {
	run_tool --status 3 sh -c 'exit 3'
	# A wrong expectation fails the test, saying why.
	run run_tool --status 4 sh -c 'exit 3'
	assert_failure
	assert_output --partial "exited 3, expected 4"
}

@test "run_tool ! false" {
	run_tool ! false
	assert_equal "$status" 1
}

@test "run_tool ! sh -c 'kill -KILL \$\$' [status 137 is not a timeout]" {
	run_tool ! sh -c 'kill -KILL $$'
	assert_equal "$status" 137
}

@test "run_tool --separate-stderr sh -c 'echo out; echo err >&2'" {
	run_tool --separate-stderr sh -c 'echo out; echo err >&2'
	assert_output out
	assert_stderr_contains err
	refute_stderr_contains out
}

@test "run_tool --stdin FILE cat" {
	echo hello >"$BATS_TEST_TMPDIR/in"
	run_tool --stdin "$BATS_TEST_TMPDIR/in" cat
	assert_output hello
	run_tool cat
	assert_output ''
}

@test "CTRKIT_TEST_TIMEOUT=1 run_tool sleep 10 [timeout]" {
	CTRKIT_TEST_TIMEOUT=1 run_tool --status 124 sleep 10
	CTRKIT_TEST_TIMEOUT=1 run run_tool sleep 10
	assert_failure
	assert_output --partial "timed out after 1s"
}

@test "safename [same within a test, ck-t prefix, fits an interface name]" {
	local a b
	a=$(safename)
	b=$(safename)
	assert_equal "$a" "$b"
	assert_regex "$a" '^ck-t[0-9a-f]{6}$'
	echo "$a" >"$BATS_SUITE_TMPDIR/safename-previous"
}

@test "safename [differs from the previous test's]" {
	local prev
	prev=$(cat "$BATS_SUITE_TMPDIR/safename-previous")
	[ "$(safename)" != "$prev" ]
}

@test "chroot ROOTFS /bin/sh -c 'echo ok' [make_rootfs]" {
	requires root busybox
	local rootfs=$BATS_TEST_TMPDIR/rootfs
	make_rootfs "$rootfs"
	assert_file_executable "$rootfs/bin/busybox"
	assert_link_exists "$rootfs/bin/sh"
	assert_file_exists "$rootfs/etc/passwd"
	run_tool chroot "$rootfs" /bin/sh -c 'echo ok'
	assert_output ok
	run_tool chroot "$rootfs" /bin/sh -c 'stat -c %a /tmp; id -un; cat /etc/hostname'
	assert_output $'1777\nroot\nctrkit'
}

@test "scripts/mk-rootfs.sh DIR [idempotent]" {
	requires busybox
	local dir=$BATS_TEST_TMPDIR/r
	run_tool "$REPO/scripts/mk-rootfs.sh" "$dir"
	run_tool "$REPO/scripts/mk-rootfs.sh" "$dir"
	run_tool "$dir/bin/sh" -c 'echo ok'
	assert_output ok
}

@test "scripts/bench-lib.sh discard DIR [under make bench it waits in BENCH_TRASH; without it, or on another file system, it is removed]" {
	. "$REPO/scripts/bench-lib.sh"
	local trash=$BATS_TEST_TMPDIR/trash
	mkdir -p "$trash" "$BATS_TEST_TMPDIR/a/d" "$BATS_TEST_TMPDIR/b"
	BENCH_TRASH=$trash discard "$BATS_TEST_TMPDIR/a"
	[ ! -e "$BATS_TEST_TMPDIR/a" ]
	run_tool find "$trash" -mindepth 2 -path '*/a/d'
	assert_output --partial '/a/d'
	BENCH_TRASH= discard "$BATS_TEST_TMPDIR/b"
	[ ! -e "$BATS_TEST_TMPDIR/b" ]
	BENCH_TRASH=$trash discard "$BATS_TEST_TMPDIR/gone" # nothing there: nothing to do
	# another file system (a tmpfs): removed at once, not copied over
	local other
	other=$(mktemp -d /dev/shm/ck-other-fs.XXXXXX) || skip "no /dev/shm"
	[ "$(stat -c %d "$other")" != "$(stat -c %d "$trash")" ] || { rmdir "$other"; skip "/dev/shm is on the test's file system"; }
	BENCH_TRASH=$trash discard "$other"
	[ ! -e "$other" ]
	run_tool find "$trash" -mindepth 2 -maxdepth 2
	assert_output --partial '/a'
	refute_output --partial ck-other-fs
}

@test "run_tool no-such-command [status 127]" {
	run_tool --status 127 no-such-command
}

@test "leak_check [nothing left so far]" {
	leak_check
}
