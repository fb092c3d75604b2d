#!/usr/bin/env bats
# The scripts a learner runs first: the demo, the run pipeline by hand, the
# examples.  Each runs as a reader would start it, inside a network namespace
# this file makes as the "host" (the scripts that use the bridge make their
# own as well), so the bridge, its NAT rules and published ports never touch
# the real host's network.  Images come from busybox-static, never a registry.

load helpers

setup_file() {
	load helpers
	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root CTRKIT_STATE=$BATS_FILE_TMPDIR/state
	HOSTNS=ck-t$(printf '%06x' $((RANDOM << 8 | RANDOM & 255)))-h
	export HOSTNS
	ip netns add "$HOSTNS"
	ip -n "$HOSTNS" link set lo up
	mkdir -p "$BATS_FILE_TMPDIR/bin"
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s "$@"\n' "$HOSTNS" >"$BATS_FILE_TMPDIR/bin/host"
	chmod +x "$BATS_FILE_TMPDIR/bin/host"
}

teardown_file() {
	ip netns del "$HOSTNS" 2>/dev/null || true
}

setup() {
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
}

# containers: the container state directories left under CTRKIT_STATE.
containers() {
	find "$CTRKIT_STATE" -mindepth 2 -maxdepth 2 -name meta.json 2>/dev/null | wc -l
}

@test "scripts/mk-image.sh [busybox:latest from busybox-static, once]" {
	requires busybox
	run_tool "$REPO/scripts/mk-image.sh"
	assert_output ''
	run_tool img-pull ls
	assert_line --regexp '^docker.io/library/busybox:latest '
	local before=$output
	run_tool "$REPO/scripts/mk-image.sh" busybox:latest
	run_tool img-pull ls
	assert_equal "$output" "$before" # the same digest: not made again
	run_tool --separate-stderr --status 1 env BUSYBOX=/nonexistent "$REPO/scripts/mk-image.sh" other:1
	assert_stderr_contains 'busybox-static'
}

@test "scripts/demo.sh [a web server answers, is shown, and is gone]" {
	requires root overlay busybox
	run_tool host "$REPO/scripts/demo.sh"
	assert_line --partial '$ ctr-run -d --name web -m 64m --cpus 0.5 -p 8080:80 -v '
	assert_line '<h1>hello from a ctrkit container</h1>'
	assert_line --regexp '^[0-9a-f]{12} +busybox +httpd -f -p 80 -h /www .* running +web$'
	assert_line --regexp '^    1 httpd$'
	assert_line --regexp '^pid +[0-9]+ +no '
	assert_line --regexp '^memory .* limit 64M'
	assert_line --regexp '^/tmp/note: the container layer'
	assert_line --partial 'no namespace, mount or cgroup of'
	# The demo keeps its state in a directory of its own, and removes it.
	run_tool sh -c 'ls -d /run/ck-demo.* /run/netns/ck-demo-* 2>/dev/null || true'
	assert_output ''
}
