#!/usr/bin/env bats
# ctr-run end to end: the whole pipeline (img-pull | fs-layer | cg-limit |
# net-bridge | ns-enter) behind one docker-like command, and the lifecycle
# around it. Every test runs inside a network namespace this file makes as
# the "host", so the bridge, its NAT rules and published ports never touch
# the real host's network.

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
	# Whatever a failed test left: remove it the way a user would.
	remove_host_containers
	[ -z "${other_host-}" ] || ip netns del "$other_host" 2>/dev/null || true
}

# containers: the container state directories left under CTRKIT_STATE.
containers() {
	find "$CTRKIT_STATE" -mindepth 2 -maxdepth 2 -name meta.json 2>/dev/null | wc -l
}

@test "ctr-run --rm --pull never no-such-image true [img-pull's message, exit 125; the stages after it make nothing: no bridge, forwarding still off]" {
	requires root overlay busybox
	# A host of its own, where no container ever ran: no bridge yet, and
	# forwarding off.
	other_host=$(safename)-o
	ip netns add "$other_host"
	ip -n "$other_host" link set lo up
	ip netns exec "$other_host" sysctl -qw net.ipv4.ip_forward=0
	run_tool --separate-stderr --status 125 nsenter --net="/run/netns/$other_host" ctr-run --rm --pull never no-such-image true
	assert_stderr_contains "image not in the store"
	refute_stderr_contains "net-bridge"
	run_tool ip -n "$other_host" -o link
	refute_output --partial ctrkit0
	run_tool ip netns exec "$other_host" sysctl -n net.ipv4.ip_forward
	assert_output 0
	assert_equal "$(containers)" 0
}

@test "ctr-run --rm busybox sh -c 'exit 3' [the status passes through; nothing is left]" {
	requires root overlay busybox
	run_tool --separate-stderr --status 3 host ctr-run --rm busybox sh -c 'echo "pid $$ on $(hostname)"; ls /; exit 3'
	assert_line --index 0 --regexp '^pid 1 on [0-9a-f]{12}$'
	assert_line bin
	assert_equal "$(containers)" 0
	refute [ -n "$(findmnt -rn -o TARGET | grep -F "$CTRKIT_STATE/")" ]
	run_tool --status 127 host ctr-run --rm --network none busybox no-such-program
	run_tool --status 126 host ctr-run --rm --network none busybox /etc/passwd
	assert_equal "$(containers)" 0
}

@test "ctr-run -d --name web -m 64m -p 8080:80 busybox httpd; ps; exec; logs; stop; rm" {
	requires root overlay busybox
	run_tool host ctr-run -d --name web -m 64m -p 8080:80 busybox httpd -f -v -p 80 -h /etc
	local id=$output
	assert_output --regexp '^[0-9a-f]{12}$'
	run_tool host ctr-run ps
	assert_line --regexp "^$id +busybox +httpd -f -v -p 80 -h /etc .* running +web$"
	# The published port answers on the host's own loopback.
	run_tool host timeout 5 busybox wget -qO- http://127.0.0.1:8080/hostname
	assert_output "$id" # net-bridge wrote the container's /etc/hostname
	# exec joins its namespaces (its cgroup namespace shows its cgroup as
	# /) and its cgroup, whose limit the host sees.
	run_tool host ctr-run exec web sh -c 'hostname; grep :memory: /proc/self/cgroup'
	assert_line --index 0 "$id"
	assert_line --index 1 --regexp ":memory:/\$"
	assert_equal "$(grep :memory: "/proc/$(cat "$CTRKIT_STATE/$id/pid")/cgroup" | cut -d: -f3)" "/ctrkit/$id"
	assert_equal "$(cat /sys/fs/cgroup/memory/ctrkit/"$id"/memory.limit_in_bytes)" 67108864
	# exec -t: a terminal made inside the container's own devpts.
	run_tool host ctr-run exec -t web tty
	assert_output --regexp '^/dev/pts/[0-9]+'
	run_tool host ctr-run logs web
	assert_output --partial 'response:200'
	# httpd is PID 1 and ignores SIGTERM: stop sends SIGKILL after -t.
	run_tool host ctr-run stop -t 1 web
	run_tool host ctr-run ps -a
	assert_line --regexp "^$id .* exited \(137\) +web$"
	run_tool --status 125 host ctr-run exec web true
	run_tool host ctr-run rm web
	assert_equal "$(containers)" 0
	run_tool ls /run/netns
	refute_output --partial "$id"
}

@test "ctr-run --dry-run … | bash [the printed pipeline runs the same container]" {
	requires root overlay busybox
	run_tool host ctr-run --dry-run --rm --network none --hostname box busybox sh -c 'echo "$(hostname) says hi"'
	assert_line --index 1 --regexp '^echo .* \\$'
	assert_output --partial '| img-pull --pull missing busybox'
	assert_output --partial '| fs-layer mount --name'
	assert_output --partial '| cg-limit --name'
	assert_output --partial '| net-bridge attach --id'
	local script=$output
	run_tool host bash -c "$script"
	assert_line 'box says hi'
	run_tool find "$CTRKIT_STATE" -mindepth 1 -maxdepth 1 -not -name net
	assert_output ''
}

@test "ctr-run --dry-run IMAGE-NOT-IN-THE-STORE CMD [the pipeline, which pulls it; no entrypoint to read yet]" {
	run_tool --separate-stderr ctr-run --dry-run no-such-image:1 echo hi
	assert_output --partial '| img-pull --pull missing no-such-image:1'
	assert_output --partial ' -- echo hi'
	assert_equal "$stderr" ''
}

@test "kill -9 the supervisor of ctr-run -d; ctr-run gc; rm -f [gc keeps what runs; rm -f cleans the host]" {
	requires root overlay busybox
	run_tool host ctr-run -d busybox sleep 1000
	local id=$output sup
	sup=$(cut -d@ -f1 "$CTRKIT_STATE/$id/supervisor")
	kill -KILL "$sup"
	run_tool --separate-stderr host ctr-run gc
	assert_output ''
	assert_stderr_contains "kept $id"
	run_tool host ctr-run rm -f "$id"
	assert_equal "$(containers)" 0
	run_tool test ! -e "/sys/fs/cgroup/memory/ctrkit/$id"
}

@test "ctr-run -d ×20 in parallel [20 distinct addresses; all removed]" {
	requires root overlay busybox
	local i id
	for i in $(seq 20); do
		host ctr-run -d busybox sleep 1000 >"$BATS_TEST_TMPDIR/$i" 2>&1 3>&- &
	done
	wait
	run_tool sh -c "cat '$BATS_TEST_TMPDIR'/[0-9]*"
	assert_equal "${#lines[@]}" 20
	for id in "${lines[@]}"; do
		host ctr-run exec "$id" ip -o -4 addr show eth0 | awk '{print $4}' >>"$BATS_TEST_TMPDIR/addresses"
	done
	run_tool sort -u "$BATS_TEST_TMPDIR/addresses"
	assert_equal "${#lines[@]}" 20
	run_tool sh -c "cat '$BATS_TEST_TMPDIR'/[0-9]* | xargs host ctr-run rm -f"
	assert_equal "$(containers)" 0
}

@test "ctr-run [bad input: unknown image, name in use, unknown container, -d with -t]" {
	requires root overlay busybox
	# --pull never: the store only, so no registry is ever asked.
	run_tool --separate-stderr --status 125 host ctr-run --rm --pull never --network none ck/no-such-image:1
	assert_stderr_contains 'img-pull --pull never ck/no-such-image:1 failed'
	assert_equal "$(containers)" 0
	run_tool host ctr-run -d --name taken --network none busybox sleep 1000
	run_tool --separate-stderr --status 125 host ctr-run --name taken --network none busybox true
	assert_stderr_contains 'already in use'
	run_tool --separate-stderr --status 1 host ctr-run stop nothing-here
	assert_stderr_contains 'no such container'
	run_tool --separate-stderr --status 125 host ctr-run -d -t busybox sh
	assert_stderr_contains '-d with -i or -t'
	run_tool host ctr-run rm -f taken
	assert_equal "$(containers)" 0
}

@test "ctr-run --explain --rm busybox true [one transcript: every stage's steps]" {
	requires root overlay busybox
	run_tool --separate-stderr host ctr-run --explain --rm --network none busybox true
	assert_stderr_contains '[ctr-run] # pipe(); fork(); execve() ×4: echo '
	assert_stderr_contains '[img-pull] # docker.io/library/busybox:latest is in the store'
	assert_stderr_contains '[fs-layer] mount("overlay"'
	assert_stderr_contains '[cg-limit] '
	assert_stderr_contains '[net-bridge] '
	assert_stderr_contains '[ns-enter] pivot_root(".", ".")  $ pivot_root . .'
	assert_stderr_contains '[ctr-run] # fork(); execve('
	assert_equal "$(containers)" 0
}

@test "kill -TERM ctr-run [the signal reaches the container; its status is ctr-run's]" {
	requires root overlay busybox
	local out=$BATS_TEST_TMPDIR/out
	env --default-signal=INT host ctr-run --rm --network none busybox \
		sh -c 'trap "exit 42" TERM; echo ready; while :; do sleep 0.1; done' >"$out" 2>&1 3>&- &
	local pid=$!
	wait_for grep -qx ready "$out"
	kill -TERM "$pid"
	local status=0
	wait "$pid" || status=$?
	assert_equal "$status" 42
	assert_equal "$(containers)" 0
}
