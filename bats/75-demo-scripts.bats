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
	make_host_netns
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

@test "scripts/run.sh -m 32m --cpus 0.5 busybox sh -c 'exit 4' [the pipeline by hand; its teardown leaves nothing]" {
	requires root overlay busybox
	run_tool "$REPO/scripts/mk-image.sh"
	run_tool --separate-stderr --status 4 host "$REPO/scripts/run.sh" -m 32m --cpus 0.5 busybox sh -c 'echo "pid $$ on $(hostname)"; ip -o -4 addr show eth0; grep -E ":memory:|^0::" /proc/self/cgroup; exit 4'
	assert_line --index 0 --regexp '^pid 1 on [0-9a-f]{12}$'
	local id=${lines[0]##* }
	assert_line --index 1 --regexp '^2: eth0 +inet 10\.'
	assert_line --index 2 --regexp ":/ctrkit/$id\$"
	assert_equal "$(containers)" 0
	run_tool find "$CTRKIT_STATE" -mindepth 1 -maxdepth 1 -name "$id"
	assert_output ''
	run_tool '!' host ip -o link show "ck-$id"
	run_tool test ! -e "/run/netns/ck-$id"
	refute [ -n "$(findmnt -rn -o TARGET | grep -F "$id")" ]
	# A command that is not there: 127, like docker, and still nothing left.
	run_tool --status 127 host "$REPO/scripts/run.sh" --network none busybox no-such-program
	run_tool find "$CTRKIT_STATE" -mindepth 1 -maxdepth 1 -not -name net -not -name '*lock*'
	assert_output ''
}

@test "scripts/examples/two-containers.sh [a client container fetches a page from a server container]" {
	requires root overlay busybox
	run_tool host "$REPO/scripts/examples/two-containers.sh"
	assert_line --regexp "^server's address: 10\.[0-9.]+$"
	# The client printed the server's /etc/hostname: the server's id.
	assert_equal "${lines[4]}" "${lines[1]}"
	assert_line --index 1 --regexp '^[0-9a-f]{12}$'
	run_tool sh -c 'ls -d /run/ck-two.* /run/netns/ck-two-* 2>/dev/null || true'
	assert_output ''
}

@test "scripts/examples/memory-limit.sh [-m 16m: OOM killed, exit 137, counted in stats]" {
	requires root overlay busybox
	run_tool host "$REPO/scripts/examples/memory-limit.sh"
	assert_line 'exit status 137'
	assert_line --regexp '^memory .*limit 16M, [1-9][0-9]* OOM kills?$'
	assert_equal "$(containers)" 0
}

@test "scripts/examples/build-and-run.sh [a Dockerfile becomes an image, the image a container]" {
	requires root overlay busybox
	run_tool host "$REPO/scripts/examples/build-and-run.sh"
	assert_line 'hello from an image ctrkit built'
	assert_line --regexp '^built on [0-9]{4}-[0-9]{2}-[0-9]{2}$'
	assert_output --partial 'CACHED'
	assert_equal "$(containers)" 0
	run_tool img-pull ls
	refute_output --partial 'ck-example/hello'
}
