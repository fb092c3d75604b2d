#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr are set by bats' run
# shellcheck disable=SC2016 # $ in single quotes is for the shell inside
# ns-enter as a runtime: joining a running container (--target), specs on
# stdin and bundles (cross-checked with runc run), exit status, signals,
# --init, cgroupsPath, and its own errors.

load ns-enter

# A container to join: its own pid, mount and uts namespaces, in the rootfs.
start_target() {
	bg_ns_enter --pid --uts --hostname "$(safename)" --rootfs "$ROOTFS" -- sleep 30
	TARGET=$(wait_child sleep)
}

@test "ns-enter --target PID sh -c 'hostname; ps; cat /proc/self/mountinfo' [sees its hostname, PIDs, mounts]" {
	requires root busybox
	start_target
	run_tool ns-enter --target "$TARGET" -- sh -c 'hostname; cat /etc/hostname; ps -o pid,comm; grep -E "^[0-9]+ [0-9]+ [0-9:]+ [^ ]+ / " /proc/self/mountinfo'
	assert_line --index 0 "$(safename)"
	# The rootfs's /etc/hostname: the joined mount namespace's root.
	assert_line --index 1 ctrkit
	assert_line --regexp '^ +1 +sleep$'
	# Only the container's processes: sleep, and the joined sh and ps.
	assert_equal "$(grep -cE '^ +[0-9]+ ' <<<"$output")" 3
	# Its root is the rootfs (pivot_root'ed there).
	assert_line --regexp "/rootfs / "
	# The same namespaces as the target, by inode.
	local kind
	run_tool ns-enter --target "$TARGET" -- sh -c 'for k in uts pid mnt net; do readlink /proc/self/ns/$k; done'
	for kind in uts pid mnt net; do
		assert_line "$(readlink "/proc/$TARGET/ns/$kind")"
	done
	# The joined command's exit status is ns-enter's.
	run_tool --status 5 ns-enter --target "$TARGET" -- sh -c 'exit 5'
}

@test "ns-enter --target PID --uts hostname [joins only the kinds given]" {
	requires root busybox
	start_target
	run_tool ns-enter --target "$TARGET" --uts -- sh -c 'hostname; readlink /proc/self/ns/uts /proc/self/ns/pid /proc/self/ns/mnt'
	assert_line --index 0 "$(safename)"
	assert_line --index 1 "$(readlink "/proc/$TARGET/ns/uts")"
	assert_line --index 2 "$(readlink /proc/self/ns/pid)"
	assert_line --index 3 "$(readlink /proc/self/ns/mnt)"
}

@test "ns-enter --target PID --uid-map [joins the user namespace too]" {
	requires root userns
	bg_ns_enter --user --uid-map "0 100000 65536" --uts --hostname "$(safename)" -- sleep 30
	local pid
	pid=$(wait_child sleep)
	run_tool ns-enter --target "$pid" -- sh -c 'id -u; hostname; cat /proc/self/uid_map; readlink /proc/self/ns/user'
	assert_line --index 0 0
	assert_line --index 1 "$(safename)"
	assert_line --index 2 --regexp '^ +0 +100000 +65536$'
	assert_line --index 3 "$(readlink "/proc/$pid/ns/user")"
}

@test "ns-enter spec --uts --hostname piped -- hostname | ns-enter [spec from stdin]" {
	requires root
	local spec=$BATS_TEST_TMPDIR/config.json
	run_tool sh -c "ns-enter spec --uts --hostname piped -- hostname >'$spec'"
	run_tool jq -r '.hostname, .process.args[0], .linux.namespaces[].type' "$spec"
	assert_output $'piped\nhostname\nuts'
	run_tool --separate-stderr --stdin "$spec" ns-enter
	assert_output piped
	assert_equal "$stderr" ''
	# Through a pipe too; a command after -- replaces process.args.
	run_tool bash -o pipefail -c "cat '$spec' | ns-enter -- sh -c 'echo \$(hostname) from a pipe'"
	assert_output 'piped from a pipe'
	# Flags add to the spec.
	run_tool --stdin "$spec" ns-enter --net -- sh -c 'hostname; ip -o link show | wc -l'
	assert_output $'piped\n1'
	# --spec none: stdin is not read, so no new uts namespace.
	run_tool --stdin "$spec" ns-enter --spec none -- hostname
	assert_output "$(hostname)"
	# An empty file is a stage before that failed (the next test); a
	# device such as /dev/null is no spec.
	: >"$BATS_TEST_TMPDIR/empty"
	run_tool --status 125 --stdin "$BATS_TEST_TMPDIR/empty" ns-enter --uts -- echo ok
	run_tool --stdin /dev/null ns-enter --uts -- echo ok
	assert_output ok
}

@test "ns-enter --bundle DIR [like runc run --bundle DIR, same output]" {
	requires root busybox
	local bundle=$BATS_TEST_TMPDIR/bundle
	mkdir "$bundle"
	# runc refuses a symlinked rootfs: a copy of its own (cp -a of the cache).
	make_rootfs "$bundle/rootfs"
	local cmd='hostname; echo $$; ls /; ls /dev; grep -E "^(CapEff|CapBnd|NoNewPrivs):" /proc/self/status; ip -o link show | cut -d" " -f2; id'
	run_tool sh -c "cd '$bundle' && ns-enter spec --rootfs rootfs --pid --net --ipc --uts --hostname $(safename) -- sh -c '$cmd' >config.json"
	run_tool jq -r .root.path "$bundle/config.json"
	assert_output rootfs
	run_tool --separate-stderr ns-enter --bundle "$bundle"
	assert_line --index 0 "$(safename)"
	assert_line --index 1 1
	assert_line null
	assert_line --regexp '^CapEff:\s+00000000a80425fb$'
	assert_line lo:
	assert_line 'uid=0(root) gid=0(root)'
	assert_equal "$stderr" ''
	local ours=$output
	requires runc
	on_teardown runc --root "$BATS_TEST_TMPDIR/runc" delete --force "$(safename)"
	run_tool runc --root "$BATS_TEST_TMPDIR/runc" run --bundle "$bundle" "$(safename)"
	assert_equal "$output" "$ours"
}

@test "printf '{...,,}' | ns-enter [bad JSON: exit 125, line and column]" {
	requires root
	printf '{\n  "ociVersion": "1.0.2",\n  "process": {"args": ["true"],,}\n}\n' >"$BATS_TEST_TMPDIR/bad.json"
	run_tool --separate-stderr --status 125 --stdin "$BATS_TEST_TMPDIR/bad.json" ns-enter
	assert_stderr_contains "line 3, column"
	assert_output ''
	echo '{"hello": 1}' >"$BATS_TEST_TMPDIR/not-spec.json"
	run_tool --separate-stderr --status 125 --stdin "$BATS_TEST_TMPDIR/not-spec.json" ns-enter -- true
	assert_stderr_contains "not an OCI runtime spec: line 1, column 1"
	# Not JSON at all: the message says how to give the command input instead.
	echo hello >"$BATS_TEST_TMPDIR/text"
	run_tool --separate-stderr --status 125 --stdin "$BATS_TEST_TMPDIR/text" ns-enter -- cat
	assert_stderr_contains "--spec none"
}

@test "false | ns-enter sh -c 'touch /MARKER' [an empty pipe is the stage before failing: exit 125, nothing runs on the host's root; --spec none runs it]" {
	requires root
	local marker=$BATS_TEST_TMPDIR/marker
	run_tool --separate-stderr --status 125 bash -c 'false | ns-enter sh -c "touch $1"' sh "$marker"
	assert_stderr_contains "the pipe carried no runtime spec: the command before this one failed"
	assert_stderr_contains "--spec none"
	[ ! -e "$marker" ]
	# The door: a pipe for the command's own input, no spec.
	run_tool bash -c 'printf "" | ns-enter --spec none sh -c "touch $1"' sh "$marker"
	[ -e "$marker" ]
}

@test "printf '{...,,}' | ns-enter [the column is the bad character's, as python3 -m json.tool says]" {
	requires root
	local doc want wrong=()
	for doc in '{\n  "ociVersion": "1.0.2",\n  "process": {"args": ["true"],,}\n}\n' \
		'{\n  "ociVersion": "1.0.2"\n  "process": {}\n}\n' \
		'hello\n'; do
		printf '%b' "$doc" >"$BATS_TEST_TMPDIR/bad.json"
		# "Expecting ...: line 3 column 32 (char 58)" -> "line 3, column 32"
		want=$(python3 -m json.tool "$BATS_TEST_TMPDIR/bad.json" 2>&1 | sed -nE 's/.*(line [0-9]+) (column [0-9]+).*/\1, \2/p')
		[ -n "$want" ]
		run_tool --separate-stderr --status 125 --stdin "$BATS_TEST_TMPDIR/bad.json" ns-enter
		[[ $stderr == *": $want:"* ]] || wrong+=("$doc: want $want, got: $stderr")
	done
	[ "${#wrong[@]}" -eq 0 ] || fail "$(printf '%s\n' "${wrong[@]}")"
}

@test "ns-enter --pid sh -c 'exit 0|3' [the command's exit status]" {
	requires root
	run_tool ns-enter --pid -- sh -c 'exit 0'
	run_tool --status 3 ns-enter --pid -- sh -c 'exit 3'
	run_tool --status 3 ns-enter --pid --init -- sh -c 'exit 3'
}

@test "ns-enter sh -c 'kill -KILL \$\$' [exit 128+9]" {
	requires root
	run_tool --status 137 ns-enter --uts -- sh -c 'kill -KILL $$'
	# PID 1 of a pid namespace is immune to its own SIGKILL, not to the host's.
	bg_ns_enter --pid -- sleep 30
	local pid
	pid=$(wait_child sleep)
	kill -KILL "$pid"
	wait_exit "$BG_PID"
	assert_equal "$WAIT_STATUS" 137
}

@test "ns-enter --pid /etc/passwd [exit 126, not executable]" {
	requires root
	run_tool --separate-stderr --status 126 ns-enter --pid -- /etc/passwd
	assert_stderr_contains "/etc/passwd"
}

@test "ns-enter --pid no-such-command [exit 127, not found]" {
	requires root
	run_tool --separate-stderr --status 127 ns-enter --pid -- no-such-command
	assert_stderr_contains "no-such-command"
}

@test "kill -TERM NS-ENTER [forwarded: sh -c 'trap \"exit 42\" TERM' as PID 1 exits 42]" {
	requires root
	bg_ns_enter --pid -- sh -c 'trap "exit 42" TERM; sleep 30 & wait'
	local pid
	pid=$(wait_child sh)
	# The trap is set once sh has started its sleep.
	wait_child sleep "$pid" >/dev/null
	kill -TERM "$BG_PID"
	wait_exit "$BG_PID"
	assert_equal "$WAIT_STATUS" 42
}

@test "kill -HUP|INT|QUIT|USR1|USR2|TERM NS-ENTER [forwarded: exit 128+N]" {
	requires root
	local sig num
	for sig in HUP INT QUIT USR1 USR2 TERM; do
		num=$(kill -l "$sig")
		bg_ns_enter --uts -- sleep 30
		wait_child sleep >/dev/null
		kill -"$sig" "$BG_PID"
		wait_exit "$BG_PID"
		assert_equal "$sig $WAIT_STATUS" "$sig $((128 + num))"
	done
}

@test "kill -TERM NS-ENTER [--init forwards it to the command]" {
	requires root
	bg_ns_enter --pid --init -- sleep 30
	local init
	init=$(wait_child ns-enter-init)
	wait_child sleep "$init" >/dev/null
	kill -TERM "$BG_PID"
	wait_exit "$BG_PID"
	assert_equal "$WAIT_STATUS" 143
}

@test "ns-enter --pid --mount-proc --init sh -c '(sleep 0.1 &); ...; exec sleep' [no <defunct>]" {
	requires root
	# The subshell exits at once, so its sleep is orphaned to PID 1 and
	# becomes a zombie when it ends, unless PID 1 reaps it; a ps started in
	# the background reports, while the command (then `sleep`) runs on.
	local zombie='(sleep 0.1 &); (sleep 0.4; ps -e -o pid=,stat=,comm=) & exec sleep 0.6'
	# Without --init, `sleep` is PID 1 and never reaps.
	run_tool ns-enter --pid --mount-proc -- sh -c "$zombie"
	assert_line --regexp '^ +[0-9]+ Z +sleep$'
	run_tool ns-enter --pid --mount-proc --init -- sh -c "$zombie"
	refute_line --regexp ' Z'
	assert_line --regexp '^ +1 S'
}

@test "ns-enter --spec FILE [linux.cgroupsPath: joined, shown in /proc/self/cgroup]" {
	requires root cgroup1
	[ -d /sys/fs/cgroup/pids ] || skip "needs the cgroup v1 pids hierarchy at /sys/fs/cgroup/pids"
	local cg spec=$BATS_TEST_TMPDIR/config.json
	cg=/sys/fs/cgroup/pids/$(safename)
	mkdir "$cg"
	on_teardown rmdir "$cg"
	run_tool sh -c "ns-enter spec --uts -- sh -c 'grep :pids: /proc/self/cgroup; grep -x \$\$ $cg/cgroup.procs' | jq '.linux.cgroupsPath = \"/$(safename)\"' >'$spec'"
	run_tool ns-enter --spec "$spec"
	assert_line --index 0 --regexp "^[0-9]+:pids:/$(safename)\$"
	# The host's view: the command (its host PID) is in the cgroup.
	assert_equal "${#lines[@]}" 2
	# Joined, not left behind: empty again.
	assert_equal "$(cat "$cg/cgroup.procs")" ''
	# A cgroup that does not exist is not created: an error.
	rmdir "$cg"
	run_tool --separate-stderr --status 125 ns-enter --spec "$spec"
	assert_stderr_contains "\"/$(safename)\""
	assert_stderr_contains "does not exist"
	assert_dir_not_exists "$cg"
}

@test "setpriv --reuid=65534 ns-enter --uts true [not root: exit 125]" {
	requires root
	run_tool --separate-stderr --status 125 setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN/ns-enter" --uts -- true
	assert_stderr_contains "needs root"
	leak_check
}

@test "ns-enter <<<'{... \"type\": \"bogus\" ...}' [unknown namespace kind: exit 125]" {
	requires root
	echo '{"ociVersion": "1.0.2", "process": {"args": ["touch", "'"$BATS_TEST_TMPDIR/ran"'"], "cwd": "/"}, "linux": {"namespaces": [{"type": "uts"}, {"type": "bogus"}]}}' >"$BATS_TEST_TMPDIR/spec.json"
	run_tool --separate-stderr --status 125 --stdin "$BATS_TEST_TMPDIR/spec.json" ns-enter
	assert_stderr_contains '"bogus"'
	assert_file_not_exists "$BATS_TEST_TMPDIR/ran"
	leak_check
}

@test "ns-enter --target DEADPID true [exit 125]" {
	requires root
	local dead
	sleep 0 &
	dead=$!
	wait "$dead"
	run_tool --separate-stderr --status 125 ns-enter --target "$dead" -- touch "$BATS_TEST_TMPDIR/ran"
	assert_stderr_contains "$dead"
	assert_stderr_contains "not found"
	assert_file_not_exists "$BATS_TEST_TMPDIR/ran"
	leak_check
}

@test "ns-enter --rootfs /nonexistent true [missing rootfs: exit 125]" {
	requires root
	local missing=$BATS_TEST_TMPDIR/no-rootfs
	run_tool --separate-stderr --status 125 ns-enter --pid --rootfs "$missing" -- touch "$BATS_TEST_TMPDIR/ran"
	assert_stderr_contains "$missing"
	assert_stderr_contains "missing"
	assert_file_not_exists "$BATS_TEST_TMPDIR/ran"
	assert_file_not_exists "$missing"
	leak_check
}

@test "ns-enter --uid-map '1 100000 10' true [id 0 not mapped: exit 125]" {
	requires root
	run_tool --separate-stderr --status 125 ns-enter --uid-map "1 100000 10" -- touch "$BATS_TEST_TMPDIR/ran"
	assert_stderr_contains "does not map id 0"
	run_tool --separate-stderr --status 125 ns-enter --uid-map banana -- touch "$BATS_TEST_TMPDIR/ran"
	assert_stderr_contains '"banana"'
	assert_stderr_contains "INSIDE OUTSIDE COUNT"
	assert_file_not_exists "$BATS_TEST_TMPDIR/ran"
	leak_check
}

@test "ns-enter --pid-file FILE [the container's host PID, once it runs]" {
	requires root
	bg_ns_enter --pid --uts --hostname "$(safename)" --pid-file "$BATS_TEST_TMPDIR/pid" -- sleep 30
	local pid i
	for ((i = 0; i < 60; i++)); do
		[ -s "$BATS_TEST_TMPDIR/pid" ] && break
		sleep 0.05
	done
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	assert_equal "$pid" "$(wait_child sleep)"
	assert_equal "$(cat /proc/"$pid"/comm)" sleep
	[ "$(ns_inode "$pid" uts)" != "$(ns_inode $$ uts)" ] || fail "PID $pid is not in a new UTS namespace"
}

@test "ns-enter --cgroups-path PATH -u 1000:1001 [joins the cgroup, runs as that user]" {
	requires root cgroup1
	[ -d /sys/fs/cgroup/pids ] || skip "needs the cgroup v1 pids hierarchy at /sys/fs/cgroup/pids"
	local cg=/sys/fs/cgroup/pids/$(safename)
	mkdir "$cg"
	on_teardown rmdir "$cg"
	run_tool ns-enter --uts --cgroups-path "/$(safename)" -u 1000:1001 -- sh -c 'grep :pids: /proc/self/cgroup; id -u; id -g'
	assert_line --index 0 --regexp "^[0-9]+:pids:/$(safename)\$"
	assert_line --index 1 1000
	assert_line --index 2 1001
	run_tool --separate-stderr --status 125 ns-enter -u nobody -- true
	assert_stderr_contains 'want UID[:GID] as numbers'
}

@test "ns-enter -t --rootfs ROOTFS tty [a terminal from the container's own devpts, 80x24 without one to copy]" {
	requires root busybox
	run_tool ns-enter -t --pid --rootfs "$ROOTFS" -- sh -c 'tty; stty size; [ -t 0 ] && echo stdin-is-a-tty'
	assert_line --index 0 --regexp '^/dev/pts/0'
	assert_line --index 1 --regexp '^24 80'
	assert_line --index 2 --regexp '^stdin-is-a-tty'
}
