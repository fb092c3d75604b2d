#!/usr/bin/env bats
# Errors that teach: one message that says what to do next, not a cascade
# of follow-on failures or a screenful of usage.

load helpers

@test "ctr-run nosuchimage [offline: one message naming mk-image.sh, img-pull and --pull never]" {
	requires root
	local name dir
	name=$(safename)
	dir=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/ck-err.XXXXXX")
	ip netns add "$name"
	ip netns exec "$name" sysctl -qw net.ipv4.ip_forward=1 # as on a container host (helpers' make_host_netns)
	# A network namespace with only a loopback: no registry is in reach.
	run_tool --status 125 --separate-stderr env CTRKIT_ROOT="$dir/root" CTRKIT_STATE="$dir/state" \
		nsenter --net=/run/netns/"$name" ctr-run --rm nosuchimage true
	ip netns del "$name"
	assert_stderr_contains 'image "nosuchimage" is not in the store'
	assert_stderr_contains 'scripts/mk-image.sh'
	assert_stderr_contains 'img-pull nosuchimage'
	assert_stderr_contains '--pull never'
	# The stages after img-pull fail for want of a document: not shown.
	refute_stderr_contains 'fs-layer:'
	refute_stderr_contains 'cg-limit:'
	refute_stderr_contains 'net-bridge:'
	[ "${#stderr_lines[@]}" -le 3 ] || fail "want at most 3 lines of error, got ${#stderr_lines[@]}"
	# Nothing half-made.
	run_tool env CTRKIT_ROOT="$dir/root" CTRKIT_STATE="$dir/state" ctr-run ps -a
	assert_equal "${#lines[@]}" 1
	rm -rf "$dir"
}

@test "ctr-run --memroy 64m busybox [a wrong flag: the suggestion and one usage line]" {
	run_tool --status 80 ctr-run --memroy 64m busybox
	assert_output --partial 'did you mean "--memory"?'
	[ "${#lines[@]}" -le 4 ] || fail "want the usage line and the suggestion, got ${#lines[@]} lines"
	refute_output --partial 'Flags:'
}

@test "CMD --bogus [every command: one usage line, not the whole usage]" {
	local cmd
	for cmd in img-pull cg-limit fs-layer net-bridge img-build ns-enter; do
		run_tool --status 80 "$cmd" --bogus
		assert_output --partial 'unknown flag --bogus'
		[ "${#lines[@]}" -le 4 ] || fail "$cmd --bogus: want at most 4 lines, got ${#lines[@]}"
	done
}
