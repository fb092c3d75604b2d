#!/usr/bin/env bats
# ctrkit-runc: ns-enter speaking runc's command line, driven by hand the
# way containerd's shim drives it (create, start, state, kill, delete), and
# the parts of the runtime spec a runtime must apply. Each container's
# cgroup is /ck-t…-o/ID, removed by delete; its parent by teardown.

load helpers

setup_file() {
	load helpers
	requires root
	CG=/ck-t$(printf '%06x' $(((RANDOM << 8 | RANDOM) & 0xffffff)))-o
	ROOT=$BATS_FILE_TMPDIR/state
	export CG ROOT
	# rt: the runtime with this file's state directory (a script, so
	# run_tool's timeout can run it).
	mkdir -p "$BATS_FILE_TMPDIR/bin"
	printf '#!/bin/sh\nexec ctrkit-runc --root %s "$@"\n' "$ROOT" >"$BATS_FILE_TMPDIR/bin/rt"
	chmod +x "$BATS_FILE_TMPDIR/bin/rt"
}

teardown_file() {
	local d
	for d in /sys/fs/cgroup/*"$CG" /sys/fs/cgroup/unified"$CG"; do
		[ ! -d "$d" ] || rmdir "$d" 2>/dev/null || true
	done
}

setup() {
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
	B=$BATS_TEST_TMPDIR/bundle
	ID=$(safename)
	make_rootfs "$B/rootfs"
}

teardown() {
	rt delete --force "$ID" >/dev/null 2>&1 || true
	# A failed test may leave mounts below the root in our own namespace
	# (a spec without a mount namespace): never the host's tree's.
	local m
	for m in $(awk -v r="$B/rootfs/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
		umount -l "$m" || true
	done
}

# detached CMD…: rt CMD… with its output in a file, as containerd's shim
# gives the runtime: the container's process keeps create's stdio, and a
# pipe that bats reads would never end.
detached() {
	run_tool bash -c 'out=$1; shift; "$@" >"$out" 2>&1 </dev/null || { cat "$out"; exit 1; }' _ "$BATS_TEST_TMPDIR/out" rt "$@"
}

# bundle JQ: config.json from `ctrkit-runc spec`, edited by the jq filter,
# in the container's own cgroup, without a terminal.
bundle() {
	rm -f "$B/config.json"
	ctrkit-runc spec --bundle "$B"
	jq --arg cg "$CG/$ID" '.process.terminal = false | .linux.cgroupsPath = $cg | '"$1" "$B/config.json" >"$B/c" && mv "$B/c" "$B/config.json"
}

@test "ctrkit-runc create; state; start; kill; delete [the life runc's shim drives]" {
	bundle '.process.args = ["sh", "-c", "echo started; exec sleep 1000"]'
	detached create --bundle "$B" --pid-file "$B/pid" "$ID"
	run_tool rt state "$ID"
	assert_equal "$(jq -r .status <<<"$output")" created
	local pid
	pid=$(jq -r .pid <<<"$output")
	assert_equal "$(cat "$B/pid")" "$pid" # no newline: containerd reads it with Atoi
	# Created: set up, waiting before execve on the exec fifo.
	assert [ -p "$ROOT/$ID/exec.fifo" ]
	assert_equal "$(readlink "/proc/$pid/exe")" /ns-enter
	assert_equal "$(cat /sys/fs/cgroup/memory"$CG/$ID"/cgroup.procs)" "$pid"
	# Not stopped: delete without --force is an error and changes nothing
	# (runtime-tools' delete; runc deletes it).
	run_tool --status 1 rt delete "$ID"
	assert_output --partial 'is created: stop it first, or delete --force'
	assert [ -p "$ROOT/$ID/exec.fifo" ]
	run_tool rt start "$ID"
	assert [ ! -e "$ROOT/$ID/exec.fifo" ]
	run_tool rt state "$ID"
	assert_equal "$(jq -r .status <<<"$output")" running
	run_tool rt ps --format json "$ID"
	assert_output --partial "$pid"
	run_tool rt list --format json
	assert_equal "$(jq -r '.[0].id' <<<"$output")" "$ID"
	run_tool --status 1 rt delete "$ID"
	assert_output --partial 'stop it first, or delete --force'
	run_tool rt kill "$ID" KILL
	sleep 0.2
	run_tool rt state "$ID"
	assert_equal "$(jq -r .status <<<"$output")" stopped
	run_tool rt delete "$ID"
	assert [ ! -e "$ROOT/$ID" ]
	assert [ ! -e /sys/fs/cgroup/memory"$CG/$ID" ]
}

# environ PID: run_tool's output is the environment PID was executed
# with, a variable a line.
environ() { run_tool bash -c 'tr "\0" "\n" <"/proc/$1/environ"' _ "$1"; }

# runs_program PID: PID has left ns-enter for the container's program.
runs_program() { [ "$(readlink "/proc/$1/exe")" != /ns-enter ]; }

# cg_limit_of PID: the cg-limit PID started (its child, by what it runs).
cg_limit_of() { ps --ppid "$1" -o pid=,comm= | awk '$2 == "cg-limit" { print $1 }'; }
holds_cgroup() { [ -n "$(cg_limit_of "$1")" ]; }

# running ID: the runtime says so.
running() { [ "$(rt state "$1" 2>/dev/null | jq -r .status)" = running ]; }

@test "ctrkit-runc create; start; run [stage 1 and the cg-limit holding the cgroup start with one P (GOMAXPROCS=1); the container's environment has none of ns-enter's]" {
	bundle '.process.args = ["sleep", "1000"]'
	detached create --bundle "$B" "$ID"
	run_tool rt state "$ID"
	local pid
	pid=$(jq -r .pid <<<"$output")
	# stage 1, waiting on the exec fifo
	environ "$pid"
	assert_line GOMAXPROCS=1
	assert_line GODEBUG=disablethp=1
	run_tool rt start "$ID"
	wait_for runs_program "$pid"
	environ "$pid"
	assert_line --regexp '^PATH='
	refute_line --regexp '^(GOMAXPROCS|GODEBUG|_CTRKIT_)'
	run_tool rt delete --force "$ID"
	# run: ns-enter waits for the container, and cg-limit holds its cgroup
	rt run --bundle "$B" "$ID" >"$BATS_TEST_TMPDIR/out" 2>&1 </dev/null &
	local ns=$! # rt execs ctrkit-runc: the same process
	wait_for holds_cgroup "$ns"
	environ "$(cg_limit_of "$ns")"
	assert_line GOMAXPROCS=1
	wait_for running "$ID"
	run_tool rt kill "$ID" KILL
	wait "$ns" || true
}

@test "ctrkit-runc exec; pause; resume; update --resources; kill --all" {
	bundle '.process.args = ["sleep", "1000"]'
	detached run -d --bundle "$B" "$ID"
	run_tool rt exec "$ID" sh -c 'echo "$(hostname) $(id -u)"; grep Seccomp: /proc/self/status'
	assert_line --index 0 'ctrkit 0'
	assert_line --index 1 --regexp 'Seccomp:\s+2'
	echo '{"args": ["sh", "-c", "exit 4"], "cwd": "/", "user": {"uid": 0, "gid": 0}}' >"$B/process.json"
	run_tool --status 4 rt exec --process "$B/process.json" "$ID"
	run_tool rt pause "$ID"
	run_tool rt state "$ID"
	assert_equal "$(jq -r .status <<<"$output")" paused
	assert_equal "$(cat /sys/fs/cgroup/freezer"$CG/$ID"/freezer.state)" FROZEN
	run_tool rt resume "$ID"
	run_tool bash -c "echo '{\"memory\": {\"limit\": 33554432}}' | rt update --resources - $ID"
	assert_equal "$(cat /sys/fs/cgroup/memory"$CG/$ID"/memory.limit_in_bytes)" 33554432
	detached exec -d "$ID" sleep 1000
	run_tool rt ps --format json "$ID"
	assert_equal "$(jq length <<<"$output")" 2
	run_tool rt kill --all "$ID" KILL
	sleep 0.3
	run_tool rt ps --format json "$ID"
	assert_output '[]'
}

@test "ctrkit-runc create; start [a user namespace, a seccomp profile without close_range; start returns once the program runs]" {
	# The process reopens the exec fifo as the namespace's root (host id
	# 100000); a filter that forbids close_range(2) is loaded after the
	# descriptors are marked close-on-exec.
	bundle '.process.args = ["sleep", "1000"]
		| .linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]}'
	# The namespace's root (host id 100000) must reach the bundle, as with
	# runc: open up bats's private temporary directories on the way.
	local d=$B
	while [ "$d" != / ] && [ "$d" != /tmp ]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	detached create --bundle "$B" --pid-file "$B/pid" "$ID"
	detached start "$ID"
	# start returned after execve: the process is sleep already.
	run_tool cat "/proc/$(cat "$B/pid")/comm"
	assert_output sleep
	run_tool rt state "$ID"
	assert_equal "$(jq -r .status <<<"$output")" running
	run_tool awk '{print $2}' "/proc/$(cat "$B/pid")/uid_map"
	assert_output 100000
}

@test "ctrkit-runc create [a namespace path of another kind is refused, the caller's namespaces untouched]" {
	# /proc/self/ns/mnt, read by the runtime, is the caller's own mount
	# namespace: joined as "ipc" it used to land the container's
	# pivot_root in the caller's namespace.
	bundle '.process.args = ["true"] | .linux.namespaces |= map(if .type == "ipc" then .path = "/proc/self/ns/mnt" else . end)'
	local root_before
	root_before=$(stat -c %i /)
	run_tool --status 1 rt create --bundle "$B" "$ID"
	assert_output --partial "is a mnt namespace"
	assert_equal "$(stat -c %i /)" "$root_before"
	assert [ ! -e "$ROOT/$ID" ]
}

@test "ctrkit-runc create; start; delete [no mount namespace in the spec: the root's mounts land in ours below it, chroot; delete undoes them]" {
	# runtime-tools' linux_ns_itype: a namespace the spec does not list is
	# the runtime's, the mount namespace too.
	bundle '.process.args = ["sh", "-c", "ls /dev/pts; exec sleep 1000"] | .linux.namespaces = [] | del(.hostname, .linux.maskedPaths, .linux.readonlyPaths)'
	mounts() { awk -v r="$B/rootfs/" 'index($5, r) == 1' /proc/self/mountinfo | wc -l; }
	assert_equal "$(mounts)" 0
	detached create --bundle "$B" --pid-file "$B/pid" "$ID"
	assert_equal "$(readlink "/proc/$(cat "$B/pid")/ns/mnt")" "$(readlink /proc/self/ns/mnt)"
	assert_equal "$(findmnt -n -o FSTYPE "$B/rootfs/proc")" proc
	assert_equal "$(findmnt -n -o FSTYPE "$B/rootfs/dev/pts")" devpts
	assert_equal "$(readlink "/proc/$(cat "$B/pid")/root")" "$B/rootfs"
	rt start "$ID"
	rt delete --force "$ID"
	assert_equal "$(mounts)" 0
	# What would change our namespace beyond the root is refused, and
	# nothing is mounted.
	bundle '.process.args = ["true"] | .linux.namespaces = [] | del(.hostname) | .root.readonly = true'
	run_tool --status 1 rt run --bundle "$B" "$ID"
	assert_output --partial "root.readonly needs a mount namespace"
	assert_equal "$(mounts)" 0
}

@test "ctrkit-runc run [sysctl, umask, rlimits, oom_score_adj, a cwd made, a hostname]" {
	bundle '.process.args = ["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; umask; ulimit -n; cat /proc/self/oom_score_adj; pwd; hostname"]
		| .linux.sysctl = {"net.ipv4.ip_forward": "1"} | .process.user.umask = 23
		| .process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 321, "soft": 123}]
		| .process.oomScoreAdj = 42 | .process.cwd = "/made/here" | .hostname = "box"'
	run_tool rt run --bundle "$B" "$ID"
	assert_output $'1\n0027\n123\n42\n/made/here\nbox'
	# A sysctl that is not the container's (it would change the host).
	bundle '.linux.sysctl = {"kernel.pid_max": "1000"}'
	run_tool --status 1 rt run --bundle "$B" "$ID"
	assert_output --partial 'linux.sysctl "kernel.pid_max" is not namespaced'
}

@test "ctrkit-runc run [the six hooks, each at its moment, with the state on stdin; a failing poststart or poststop hook only warns]" {
	local log=$BATS_TEST_TMPDIR/hooks.log
	printf '#!/bin/sh\nprintf "%%s %%s\\n" "$1" "$(cat)" >>%s\n' "$log" >"$BATS_TEST_TMPDIR/hook"
	chmod +x "$BATS_TEST_TMPDIR/hook"
	local h=$BATS_TEST_TMPDIR/hook
	bundle '.process.args = ["true"] | .hooks = {
		"prestart": [{"path": "'"$h"'", "args": ["hook", "prestart"]}],
		"createRuntime": [{"path": "'"$h"'", "args": ["hook", "createRuntime"]}],
		"createContainer": [{"path": "'"$h"'", "args": ["hook", "createContainer"]}],
		"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat >/tmp/started; env >/tmp/env"]}],
		"poststart": [{"path": "/bin/false"}, {"path": "'"$h"'", "args": ["hook", "poststart"]}],
		"poststop": [{"path": "/bin/false"}, {"path": "'"$h"'", "args": ["hook", "poststop"]}]}'
	detached create --bundle "$B" "$ID"
	run_tool rt start "$ID"
	assert_output --partial 'warning: poststart hook /bin/false'
	sleep 0.2
	run_tool rt delete "$ID"
	assert_output --partial 'warning: poststop hook /bin/false'
	assert [ ! -e "$ROOT/$ID" ]
	run_tool cut -d' ' -f1 "$log"
	assert_output $'prestart\ncreateRuntime\ncreateContainer\npoststart\npoststop'
	run_tool sh -c "grep '^createRuntime ' '$log' | cut -d' ' -f2- | jq -r '.id, .status, .bundle'"
	assert_output "$ID"$'\ncreated\n'"$B"
	run_tool sh -c "grep '^poststop ' '$log' | cut -d' ' -f2- | jq -r .status"
	assert_output stopped
	# startContainer ran inside: its path, and what it wrote, are the container's.
	run_tool jq -r .status "$B/rootfs/tmp/started"
	assert_output running
	# and it gets none of the settings stage 1's Go runtime started with
	run_tool cat "$B/rootfs/tmp/env"
	assert_line --regexp '^PWD='
	refute_line --regexp '^(GOMAXPROCS|GODEBUG)='
}

@test "ctrkit-runc run BUNDLE-OF-runc-spec [runc's own default spec, unmodified]" {
	requires runc
	rm -f "$B/config.json"
	(cd "$B" && runc spec)
	# It asks for a terminal and runs sh: give it one, and a line to run.
	run_tool --status 7 bash -c "echo 'echo \"in \$(hostname)\"; exit 7' | script -qec 'rt run --bundle $B $ID' /dev/null"
	assert_output --partial 'in runc'
	run_tool --status 7 bash -c "echo 'exit 7' | script -qec 'rt run --bundle $B $ID' /dev/null >/dev/null"
}

@test "runc run BUNDLE-OF-ns-enter-spec [ctrkit's spec, seccomp profile and devices included, runs under runc]" {
	requires runc
	ns-enter spec --pid --uts --hostname ck --cgroups-path "$CG/$ID" --rootfs rootfs -- \
		sh -c 'echo "$(hostname) $(grep Seccomp: /proc/self/status)"' >"$B/config.json"
	run_tool runc --root "$ROOT/runc" run --bundle "$B" "$ID"
	assert_output --regexp '^ck Seccomp:\s+2$'
}

@test "ctrkit-runc [bad input: unknown id, taken id, no bundle, systemd cgroups]" {
	run_tool --status 1 rt state nope
	assert_output --partial 'container "nope" does not exist'
	run_tool --status 1 rt create --bundle "$BATS_TEST_TMPDIR/none" "$ID"
	assert_output --partial "a bundle is a directory with config.json"
	assert [ ! -e "$ROOT/$ID" ]
	bundle '.'
	run_tool --status 1 rt create --bundle "$B" ../escape
	assert_output --partial 'use letters, digits'
	run_tool --status 1 ctrkit-runc --systemd-cgroup list
	assert_output --partial 'cgroupfs'
	run_tool ctrkit-runc features
	assert_equal "$(jq -r '.hooks | length' <<<"$output")" 6
}

@test "ctrkit-runc run --no-pivot [mount --move and chroot: the container's root, and nothing of the host's mounts]" {
	bundle '.process.args = ["sh", "-c", "cat /etc/probe; cut -d\" \" -f5 /proc/self/mountinfo | sort -u | tr \"\\n\" \" \""]'
	echo inside >"$B/rootfs/etc/probe"
	run_tool rt run --no-pivot --bundle "$B" "$ID"
	assert_line --index 0 inside
	# Only the container's own mount points: none of the host's (/run,
	# the bats temporary directory…) is left.
	assert_line --index 1 --regexp '^/ /dev .*/proc .*/sys '
	refute_output --partial "$BATS_TEST_TMPDIR"
	refute_output --partial /run
	run_tool --separate-stderr rt --explain run --no-pivot --bundle "$B" "$ID"
	assert_stderr_contains "mount --move . /"
	refute_stderr_contains "pivot_root . ."
}
