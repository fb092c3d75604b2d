#!/usr/bin/env bats
# ctr-run exec runs as the container runs (runc exec's rule): the container's
# user, capabilities, no_new_privs and seccomp filter, not ns-enter's. And
# --privileged, the one way back, shown reopening what the defaults close.
# Containers here use --network none: no bridge, so no host namespace needed.

load helpers

setup_file() {
	load helpers
	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root CTRKIT_STATE=$BATS_FILE_TMPDIR/state
	import_busybox
	# An image whose Dockerfile says USER: docker exec runs as that user.
	mkdir -p "$BATS_FILE_TMPDIR/ctx"
	printf 'FROM busybox\nUSER 1000:1000\nCMD ["sleep", "1000"]\n' >"$BATS_FILE_TMPDIR/ctx/Dockerfile"
	img-build -t user1000 "$BATS_FILE_TMPDIR/ctx" >/dev/null 2>&1
}

teardown() {
	local id
	for id in $(ctr-run ps -a 2>/dev/null | awk 'NR > 1 {print $1}'); do
		ctr-run rm -f "$id" >/dev/null 2>&1 || true
	done
}

# all_caps: CapEff of a process with every capability ctr-run may give, the
# caller's bounding set (docker --privileged gives its daemon's).
all_caps=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)

# status_lines: the lines of /proc/PID/status that say who a process is and
# what it may do.
status_lines='grep -E "^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):"'

@test "ctr-run exec [as the image's USER, with the container's caps, no_new_privs and seccomp]" {
	requires root overlay busybox
	run_tool ctr-run -d --network none --name ex user1000
	run_tool ctr-run exec ex sh -c "$status_lines /proc/1/status"
	local pid1=$output
	assert_line --regexp '^Uid:\s+1000\s'
	run_tool ctr-run exec ex sh -c "$status_lines /proc/self/status"
	assert_equal "$output" "$pid1"
	run_tool ctr-run exec ex id -u
	assert_output 1000
	# -u picks another user, as docker exec -u does; the rest stays.
	run_tool ctr-run exec -u 0 ex sh -c "$status_lines /proc/self/status"
	assert_line --regexp '^Uid:\s+0\s'
	assert_line "$(grep NoNewPrivs <<<"$pid1")"
	assert_line "$(grep Seccomp: <<<"$pid1")"
}

@test "ctr-run exec [cannot do what the container cannot: mount]" {
	requires root overlay busybox
	run_tool ctr-run -d --network none --name ex busybox sleep 1000
	run_tool ! ctr-run exec ex mount -t tmpfs none /tmp
	assert_output --regexp 'ermission denied|not permitted'
	run_tool ctr-run exec ex sh -c 'grep CapEff /proc/self/status'
	assert_output --regexp 'CapEff:\s+00000000a80425fb$' # docker's 14 capabilities
	# run -u, -e and -w are the container's process settings too.
	run_tool ctr-run -d --network none --name ex2 -u 1000:1000 -e WHO=me -w /tmp busybox sleep 1000
	run_tool ctr-run exec ex2 sh -c 'echo "$(id -u) $WHO $PWD"'
	assert_output '1000 me /tmp'
	run_tool ctr-run exec -u 0 -e WHO=you ex2 sh -c 'echo "$(id -u) $WHO $PWD"'
	assert_output '0 you /tmp'
}

@test "ctr-run exec --privileged [every capability, no seccomp; the user and cgroup stay]" {
	requires root overlay busybox
	run_tool ctr-run -d --network none --name ex -m 32m user1000
	run_tool ctr-run exec --privileged -u 0 ex sh -c "$status_lines /proc/self/status; cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
	assert_line --regexp "^CapEff:\\s+$all_caps\$"
	assert_line --regexp '^Seccomp:\s+0$'
	# In the container's cgroup (the root of its cgroup namespace), with its limit.
	assert_line --regexp ":memory:/\$"
	assert_line 33554432
	run_tool ctr-run exec --privileged -u 0 ex mount -t tmpfs none /tmp
}

@test "ctr-run --privileged [caps, seccomp, masked paths and /sys come back, with a warning]" {
	requires root overlay busybox
	run_tool --separate-stderr ctr-run --rm --network none busybox sh -c "$status_lines /proc/self/status; head -c 1 /proc/timer_list | wc -c; grep ' /sys ' /proc/mounts"
	assert_line --regexp '^CapEff:\s+00000000a80425fb$'
	assert_line --regexp '^Seccomp:\s+2$'
	assert_line 0 # /proc/timer_list is masked: /dev/null bound over it
	assert_line --regexp ' /sys sysfs ro,'
	run_tool --separate-stderr ctr-run --rm --privileged --network none busybox sh -c "$status_lines /proc/self/status; head -c 1 /proc/timer_list | wc -c; grep ' /sys ' /proc/mounts"
	assert_line --regexp "^CapEff:\\s+$all_caps\$"
	assert_line --regexp '^Seccomp:\s+0$'
	assert_line 1 # /proc/timer_list is readable, not masked
	assert_line --regexp ' /sys sysfs rw,'
	assert_stderr_contains 'warning: --privileged'
}

@test "ctr-run --security-opt [seccomp=unconfined; bad options say what ctrkit knows]" {
	requires root overlay busybox
	run_tool ctr-run --rm --network none --security-opt seccomp=unconfined busybox grep Seccomp: /proc/self/status
	assert_line --regexp '^Seccomp:\s+0$'
	run_tool ctr-run --rm --network none --security-opt no-new-privileges busybox grep NoNewPrivs /proc/self/status
	assert_line --regexp '^NoNewPrivs:\s+1$'
	run_tool --status 125 ctr-run --rm --network none --security-opt apparmor=foo busybox true
	assert_output --partial 'ctrkit knows seccomp=unconfined'
	run_tool --status 125 ctr-run --rm --network none --security-opt seccomp="$BATS_TEST_TMPDIR/none.json" busybox true
	assert_output --partial 'none.json'
	echo '{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mkdri"], "action": "SCMP_ACT_ALLOW"}]}' >"$BATS_TEST_TMPDIR/bad.json"
	run_tool --status 125 ctr-run --rm --network none --security-opt seccomp="$BATS_TEST_TMPDIR/bad.json" busybox true
	assert_output --partial 'unknown syscall "mkdri"'
	assert_equal "$(ctr-run ps -a | wc -l)" 1
}
