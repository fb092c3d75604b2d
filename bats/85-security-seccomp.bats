#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr are set by bats' run
# shellcheck disable=SC2016 # $ in single quotes is for the shell inside
# Seccomp: the specs ctrkit writes carry docker's default profile, ns-enter
# loads linux.seccomp (any OCI profile, or docker's format with --seccomp
# FILE), `--seccomp unconfined` is the opt-out, and a bad profile stops
# ns-enter before anything starts. Each blocked call is shown failing with
# the profile and working without it.

load ns-enter

# seccomp_of FILE: "MODE FILTERS" from a /proc/PID/status text.
seccomp_of() {
	awk '$1 == "Seccomp:" {m = $2} $1 == "Seccomp_filters:" {f = $2} END {print m, f}' "$1"
}

@test "ns-enter spec --rootfs DIR [the spec carries docker's default profile]" {
	requires root busybox
	run_tool ns-enter spec --rootfs "$ROOTFS" -- true
	echo "$output" >"$BATS_TEST_TMPDIR/spec.json"
	run_tool jq -r '.linux.seccomp.defaultAction, .linux.seccomp.architectures[0],
		([.linux.seccomp.syscalls[] | select(.action == "SCMP_ACT_ALLOW") | .names[]] | index("read") != null),
		([.linux.seccomp.syscalls[].names[]] | index("unshare"))' "$BATS_TEST_TMPDIR/spec.json"
	# deny by default; read allowed; unshare only with CAP_SYS_ADMIN, which
	# docker's capability set does not have: not in the list.
	assert_output $'SCMP_ACT_ERRNO\nSCMP_ARCH_X86_64\ntrue\nnull'
	run_tool ns-enter spec --seccomp unconfined --rootfs "$ROOTFS" -- true
	echo "$output" >"$BATS_TEST_TMPDIR/spec.json"
	run_tool jq -c '.linux.seccomp' "$BATS_TEST_TMPDIR/spec.json"
	assert_output null
}

@test "ns-enter --rootfs DIR grep Seccomp /proc/self/status [Seccomp: 2; unconfined: 0]" {
	requires root busybox
	run_tool ns-enter --pid --rootfs "$ROOTFS" -- cat /proc/self/status
	echo "$output" >"$BATS_TEST_TMPDIR/status"
	assert_equal "$(seccomp_of "$BATS_TEST_TMPDIR/status")" "2 1"
	assert_line --regexp '^NoNewPrivs:[[:space:]]+1$'
	run_tool ns-enter --seccomp unconfined --pid --rootfs "$ROOTFS" -- cat /proc/self/status
	echo "$output" >"$BATS_TEST_TMPDIR/status"
	assert_equal "$(seccomp_of "$BATS_TEST_TMPDIR/status")" "0 0"
	# Without a spec (like unshare), no profile; --no-new-privs sets the bit.
	run_tool ns-enter --pid --no-new-privs -- grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status
	assert_output $'NoNewPrivs:\t1\nSeccomp:\t0'
}

@test "ns-enter --rootfs DIR unshare -U true [blocked by the profile: EPERM; unconfined: works]" {
	requires root busybox userns
	# A user namespace needs no capability at all: only seccomp stops it.
	run_tool ! ns-enter --pid --rootfs "$ROOTFS" -- unshare -U true
	assert_output --partial 'Operation not permitted'
	run_tool ns-enter --seccomp unconfined --pid --rootfs "$ROOTFS" -- unshare -U sh -c 'echo in a new user namespace'
	assert_output 'in a new user namespace'
}

@test "ns-enter --rootfs DIR mount -t tmpfs [blocked by caps and, even with CAP_SYS_ADMIN, by the profile]" {
	requires root busybox
	# busybox mount words EPERM as "permission denied (are you root?)".
	run_tool ! ns-enter --pid --rootfs "$ROOTFS" -- mount -t tmpfs none /tmp
	assert_output --partial 'permission denied'
	# Give the container CAP_SYS_ADMIN but keep the profile made for
	# docker's capabilities: mount(2) is still refused, by seccomp.
	local spec=$BATS_TEST_TMPDIR/spec.json
	run_tool bash -o pipefail -c "ns-enter spec --pid --rootfs '$ROOTFS' -- sh -c 'mount -t tmpfs none /tmp && echo mounted' |
		jq '.process.capabilities |= map_values(. + [\"CAP_SYS_ADMIN\"])' >'$spec'"
	run_tool ! ns-enter --spec "$spec"
	assert_output --partial 'permission denied'
	run_tool ns-enter --spec "$spec" --seccomp unconfined
	assert_output mounted
}

@test "ns-enter --seccomp FILE [errnoRet and an argument condition, OCI format]" {
	requires root busybox
	# mkdir fails with EACCES instead of the default EPERM; kill only for
	# signal 10 (SIGUSR1, argument 1); everything else is allowed.
	cat >"$BATS_TEST_TMPDIR/profile.json" <<-'EOF'
		{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		  {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
		  {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}
		]}
	EOF
	run_tool ns-enter --seccomp "$BATS_TEST_TMPDIR/profile.json" --pid --rootfs "$ROOTFS" -- sh -c '
		mkdir /tmp/d || echo "mkdir: $?"
		kill -0 $$ && echo "kill -0: allowed"
		kill -USR1 $$ || echo "kill -USR1: $?"
		grep Seccomp: /proc/self/status'
	assert_line --partial "can't create directory '/tmp/d': Permission denied"
	assert_line 'mkdir: 1'
	assert_line 'kill -0: allowed'
	assert_line --partial 'Operation not permitted'
	assert_line 'kill -USR1: 1'
	assert_line --regexp '^Seccomp:[[:space:]]+2$'
	assert_dir_not_exists "$ROOTFS/tmp/d"
}

@test "ns-enter twice with one profile [the second takes the compiled filter from ROOT/cache/seccomp, which must be root's alone]" {
	requires root busybox
	export CTRKIT_ROOT=$BATS_TEST_TMPDIR/root
	local cache=$CTRKIT_ROOT/cache/seccomp deny=$BATS_TEST_TMPDIR/deny.json
	# docker's default profile, compiled once and kept.
	run_tool ns-enter --pid --rootfs "$ROOTFS" -- mkdir /tmp/a
	run_tool find "$cache" -name '*.json'
	assert_equal "${#lines[@]}" 1
	local kept=${lines[0]}
	run_tool stat -c %a "$cache" "$kept"
	assert_output $'700\n600'
	# A profile that denies mkdir: a second program.
	echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}' >"$deny"
	run_tool ! ns-enter --seccomp "$deny" --pid --rootfs "$ROOTFS" -- mkdir /tmp/b
	run_tool find "$cache" -name '*.json' -newer "$kept"
	assert_equal "${#lines[@]}" 1
	# Put the denying program where docker's profile's is: the next run
	# with docker's profile loads it, without compiling.
	cp "${lines[0]}" "$kept"
	run_tool ! ns-enter --pid --rootfs "$ROOTFS" -- mkdir /tmp/c
	assert_output --partial "can't create directory '/tmp/c': Operation not permitted"
	# A cache others may enter is ignored: the profile is compiled again.
	chmod 755 "$cache"
	run_tool ns-enter --pid --rootfs "$ROOTFS" -- mkdir /tmp/d
	chmod 700 "$cache"
	rm -r "$cache" # what removes the cache; nothing is lost
	run_tool ns-enter --pid --rootfs "$ROOTFS" -- mkdir /tmp/e
	rm -r "$CTRKIT_ROOT" "$ROOTFS"/tmp/[ade]
}

@test "ns-enter --seccomp FILE [docker's format: archMap, rules by capability]" {
	requires root busybox
	# A rule with "includes" applies only when the container has the
	# capability (CAP_SYS_CHROOT: it does), one with "excludes" only when it
	# has not: sethostname is refused with ENOSYS, uname is not.
	cat >"$BATS_TEST_TMPDIR/docker.json" <<-'EOF'
		{"defaultAction": "SCMP_ACT_ALLOW",
		 "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
		             {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
		 "syscalls": [
		  {"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "excludes": {"caps": ["CAP_SYS_CHROOT"]}},
		  {"names": ["sethostname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38, "includes": {"caps": ["CAP_SYS_CHROOT"]}}
		]}
	EOF
	run_tool ns-enter spec --seccomp "$BATS_TEST_TMPDIR/docker.json" --rootfs "$ROOTFS" -- true
	echo "$output" >"$BATS_TEST_TMPDIR/spec.json"
	run_tool jq -c '.linux.seccomp | [.architectures, [.syscalls[].names[]]]' "$BATS_TEST_TMPDIR/spec.json"
	assert_output '[["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],["sethostname"]]'
	run_tool ns-enter --seccomp "$BATS_TEST_TMPDIR/docker.json" --uts --pid --rootfs "$ROOTFS" -- sh -c 'uname -s; hostname other || echo "hostname: $?"'
	assert_line Linux
	assert_line --partial 'Function not implemented'
	assert_line 'hostname: 1'
}

@test "ns-enter --init --rootfs DIR [PID 1 and every one of its threads are filtered (TSYNC)]" {
	requires root busybox
	run_tool --status 1 ns-enter --init --pid --rootfs "$ROOTFS" -- sh -c '
		cat /proc/1/comm
		for t in /proc/1/task/*; do grep "^Seccomp:" "$t/status"; done | sort | uniq -c
		unshare -U true'
	assert_line --index 0 ns-enter-init
	# Several threads (the Go runtime's), all with the filter.
	assert_line --index 1 --regexp '^ +[0-9]+ Seccomp:[[:space:]]+2$'
	refute_line --regexp 'Seccomp:[[:space:]]+0'
	assert_output --partial 'Operation not permitted'
}

@test "ns-enter <<<'{...noNewPrivileges: false...}' -u 1000 [loaded while root, before setuid]" {
	requires root busybox
	local spec=$BATS_TEST_TMPDIR/spec.json
	run_tool bash -o pipefail -c "ns-enter spec --pid -u 1000 --rootfs '$ROOTFS' -- sh -c 'id -u; grep -E \"^(NoNewPrivs|Seccomp):\" /proc/self/status' |
		jq '.process.noNewPrivileges = false' >'$spec'"
	run_tool --separate-stderr ns-enter --explain --spec "$spec"
	assert_output $'1000\nNoNewPrivs:\t0\nSeccomp:\t2'
	# The filter goes in before the capabilities are dropped.
	local load setuid
	load=$(grep -n '^\[ns-enter\] seccomp(SECCOMP_SET_MODE_FILTER' <<<"$stderr" | cut -d: -f1)
	setuid=$(grep -n 'setuid(1000)' <<<"$stderr" | cut -d: -f1)
	[ -n "$load" ] && [ -n "$setuid" ] && [ "$load" -lt "$setuid" ] ||
		fail "seccomp (line $load) should load before setuid (line $setuid)"
	# With no_new_privs (the default), right before execve (and the close_range of stray descriptors).
	run_tool --separate-stderr ns-enter --explain --pid --rootfs "$ROOTFS" -- true
	run_tool bash -c 'grep "^\[ns-enter\]" <<<"$1" | grep -v -e "^\[ns-enter\] #" -e close_range | sed -n "1,/execve(\"\/bin\/true\"/p" | tail -2' _ "$stderr"
	assert_line --index 0 --regexp '^\[ns-enter\] seccomp\(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, \{default SCMP_ACT_ERRNO\(EPERM\), [0-9]+ syscalls.*  \$ # no stock shell tool'
	assert_line --index 1 --partial 'execve("/bin/true"'
}

@test "ctr-run --rm busybox grep Seccomp /proc/self/status [the image's spec carries the profile]" {
	requires root overlay busybox
	export CTRKIT_ROOT=$BATS_TEST_TMPDIR/root CTRKIT_STATE=$BATS_TEST_TMPDIR/state
	tar -C "$ROOTFS" -cf "$BATS_TEST_TMPDIR/busybox.tar" .
	run_tool img-pull import --cmd=sh "$BATS_TEST_TMPDIR/busybox.tar" busybox:latest
	run_tool --status 1 ctr-run run --rm --network none busybox sh -c 'grep "^Seccomp:" /proc/self/status; unshare -U true'
	assert_line --regexp '^Seccomp:[[:space:]]+2$'
	assert_output --partial 'Operation not permitted'
}

@test "ns-enter --seccomp BAD [not JSON, unknown syscall, arch, action: exit 125, nothing started]" {
	requires root busybox
	local bad=$BATS_TEST_TMPDIR/bad.json
	echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [' >"$bad"
	run_tool --separate-stderr --status 125 ns-enter --seccomp "$bad" --pid --rootfs "$ROOTFS" -- touch /ran
	assert_stderr_contains "not a JSON seccomp profile"
	assert_stderr_contains "$bad"

	echo '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdri"], "action": "SCMP_ACT_ERRNO"}]}' >"$bad"
	run_tool --separate-stderr --status 125 ns-enter --seccomp "$bad" --pid --rootfs "$ROOTFS" -- touch /ran
	assert_stderr_contains 'unknown syscall "mkdri"'

	echo '{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]}' >"$bad"
	run_tool --separate-stderr --status 125 ns-enter --seccomp "$bad" --pid --rootfs "$ROOTFS" -- touch /ran
	assert_stderr_contains 'unknown architecture "SCMP_ARCH_PDP11"'

	echo '{"defaultAction": "SCMP_ACT_DENY"}' >"$bad"
	run_tool --separate-stderr --status 125 ns-enter --seccomp "$bad" --pid --rootfs "$ROOTFS" -- touch /ran
	assert_stderr_contains 'unknown action "SCMP_ACT_DENY"'

	run_tool --separate-stderr --status 125 ns-enter --seccomp "$BATS_TEST_TMPDIR/missing.json" --pid --rootfs "$ROOTFS" -- touch /ran
	assert_stderr_contains 'missing.json: no such file'

	# The same checks for linux.seccomp in a spec on stdin.
	run_tool bash -o pipefail -c "ns-enter spec --pid --rootfs '$ROOTFS' -- touch /ran |
		jq '.linux.seccomp.syscalls[0].names += [\"Not-A-Call\"]' >'$BATS_TEST_TMPDIR/spec.json'"
	run_tool --separate-stderr --status 125 --stdin "$BATS_TEST_TMPDIR/spec.json" ns-enter
	assert_stderr_contains 'linux.seccomp: syscalls[0]: "Not-A-Call" is not a syscall name'

	assert_file_not_exists "$ROOTFS/ran"
	leak_check
}
