#!/usr/bin/env bats
# Seed concepts shown on the running kernel: the container's own cgroup at
# /sys/fs/cgroup (cgroup namespace, read-only mount), time namespace
# offsets, user namespace remapping (ctr-run --userns).

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

teardown() {
	remove_host_containers
}

@test "ctr-run --rm -m 64m busybox cat /sys/fs/cgroup/…memory limit [its own cgroup, read-only]" {
	requires root overlay busybox
	local file=memory.max
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] || file=memory/memory.limit_in_bytes
	run_tool --separate-stderr host ctr-run --rm -m 64m --network none busybox sh -c "
		cat /sys/fs/cgroup/$file
		grep -v ':/\$' /proc/self/cgroup || echo all-root
		touch /sys/fs/cgroup/x 2>&1 || echo read-only"
	assert_line --index 0 67108864
	assert_line all-root
	assert_line read-only
	# --cgroupns host: the host's tree, the container's cgroup deep inside it.
	run_tool --separate-stderr host ctr-run --rm --cgroupns host --network none busybox cat /proc/self/cgroup
	assert_output --regexp ':/.*ctrkit/'
	# There cgroup2 is the host's mount bound, read-only, not a fresh mount:
	# one made in the host's cgroup namespace would apply its options to
	# the host's hierarchy (ns-enter/container/cgroupfs.go).
	local v2=/sys/fs/cgroup/unified
	[ "$file" = memory.max ] && v2=/sys/fs/cgroup
	mountpoint -q "$v2" || return 0
	run_tool --separate-stderr host ctr-run --rm --explain --cgroupns host --network none busybox sh -c "touch $v2/x 2>&1 || true"
	assert_stderr_contains "mount --bind $v2 "
	refute_stderr_contains "mount -t cgroup2"
	assert_output --partial 'Read-only file system'
}

@test "ns-enter --time-offset boottime=10d,monotonic=10d cat /proc/uptime [the clocks moved inside only]" {
	requires root
	run_tool ns-enter --time-offset boottime=240h,monotonic=864000 -- cat /proc/uptime
	local inside=${output%%.*} outside
	outside=$(cut -d. -f1 /proc/uptime)
	[ "$((inside - outside))" -ge 863990 ] || fail "uptime inside $inside, outside $outside: want 10 days more"
	run_tool --status 125 ns-enter --time-offset realtime=5 -- true
	assert_output --partial 'CLOCK is monotonic or boottime'
}

@test "ctr-run --userns busybox [root inside is uid 100000 outside; the image is its own]" {
	requires root overlay busybox userns
	run_tool host ctr-run -d --name "$(safename)" --userns -v "$(safename)":/data busybox sh -c 'id -u; stat -c %u /bin; touch /made-inside /data/v && echo wrote; sleep 30'
	local id=$output pid
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		grep -q wrote "$CTRKIT_STATE/$id/log" 2>/dev/null && break
		sleep 0.1
	done
	run_tool host ctr-run logs "$id"
	assert_line --index 0 0
	assert_line --index 1 0
	assert_line wrote
	pid=$(cat "$CTRKIT_STATE/$id/pid")
	# On the host, the same process and the file it made belong to 100000.
	run_tool awk '/^Uid:/ {print $2}' "/proc/$pid/status"
	assert_output 100000
	run_tool stat -c %u "$CTRKIT_ROOT/containers/$id/upper/made-inside"
	assert_output 100000
	run_tool host ctr-run rm -f "$id"
	run_tool fs-layer volume rm "$(safename)"
}
