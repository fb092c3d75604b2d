#!/usr/bin/env bats
# The device allowlist: a container keeps CAP_MKNOD, as in docker, so it can
# make a node for any device number; the devices cgroup (v1 devices.allow,
# v2 an eBPF program) is what keeps it from opening the host's devices.
# Each attack is a loop device this file attaches to a small file of its
# own: `mknod /dev/x b 7 N && head /dev/x` must fail with EPERM by default
# and read the file with the privileged opt-out.

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
	requires root busybox
	[ -d /sys/fs/cgroup/devices ] || findmnt -rn -t cgroup2 >/dev/null ||
		skip "needs a v1 devices hierarchy or cgroup2"
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
	name=$(safename)
	rootfs=$BATS_FILE_TMPDIR/rootfs
}

teardown() {
	cg-limit rm -f "$name" 2>/dev/null || true
	[ -z "${loop-}" ] || losetup -d "$loop" 2>/dev/null || true
}

# make_loop: a loop device over a 1 MiB file that starts with a known
# secret; sets loop (/dev/loopN) and minor (N).
make_loop() {
	command -v losetup >/dev/null || skip "needs losetup (util-linux)"
	local file=$BATS_TEST_TMPDIR/disk.img
	truncate -s 1M "$file"
	printf 'ctrkit-loop-secret' | dd of="$file" conv=notrunc status=none
	loop=$(losetup -f --show "$file") || skip "no free loop device (losetup -f)"
	minor=${loop#/dev/loop}
}

# attack: the script a container runs against the loop device, then the
# devices every container must still have.
attack() {
	cat <<-EOF
		mknod /dev/x b 7 $minor && head -c 18 /dev/x; echo " loop=\$?"
		mknod /dev/kvm2 c 10 232 && head -c1 /dev/kvm2 >/dev/null; echo " kvm=\$?"
		echo hi >/dev/null && head -c1 /dev/zero | od -An -c && head -c4 /dev/urandom | wc -c
	EOF
}

@test "ns-enter --rootfs DIR sh -c 'mknod /dev/x b 7 N && head /dev/x' [EPERM: the default spec's device allowlist]" {
	make_loop
	run_tool ns-enter --rootfs "$rootfs" -- sh -c "$(attack)"
	assert_line --partial "head: /dev/x: Operation not permitted"
	assert_line " loop=1"
	assert_line --partial "head: /dev/kvm2: Operation not permitted"
	assert_line " kvm=1"
	assert_line --regexp '^ +\\0$'
	assert_line 4
	refute_output --partial ctrkit-loop-secret
	# the cgroup ns-enter made with cg-limit is gone, and so is its state
	run_tool cg-limit ls
	assert_output ""
	assert_equal "$(find "$CTRKIT_STATE" -mindepth 1 2>/dev/null)" ""
}

@test "ns-enter spec --rootfs DIR | jq devices=allow-all | ns-enter [the opt-out reads the loop device]" {
	make_loop
	run_tool bash -o pipefail -c "ns-enter spec --rootfs '$rootfs' -- sh -c 'mknod /dev/x b 7 $minor && head -c 18 /dev/x' |
		jq '.linux.resources.devices = [{\"allow\": true, \"access\": \"rwm\"}]' | ns-enter"
	assert_output ctrkit-loop-secret
}

@test "ns-enter spec --rootfs DIR | cg-limit --privileged --name N | ns-enter [cg-limit's opt-out, as ctr-run --privileged passes it]" {
	make_loop
	run_tool bash -o pipefail -c "ns-enter spec --rootfs '$rootfs' -- sh -c 'mknod /dev/x b 7 $minor && head -c 18 /dev/x' |
		cg-limit --privileged --name $name | ns-enter"
	assert_output ctrkit-loop-secret
	cg-limit rm "$name"
	# without --privileged the same pipeline is refused
	run_tool ! bash -o pipefail -c "ns-enter spec --rootfs '$rootfs' -- sh -c 'mknod /dev/x b 7 $minor && head -c 18 /dev/x' |
		cg-limit --name $name | ns-enter"
	assert_output --partial "Operation not permitted"
}

@test "ns-enter --explain --rootfs DIR true [the cg-limit command that makes and removes the cgroup]" {
	run_tool --separate-stderr ns-enter --explain --rootfs "$rootfs" -- true
	assert_stderr_contains "$ cg-limit --name "
	assert_stderr_contains "$ cg-limit rm -f "
	# cg-limit's own explain lines show the device rules being written
	if [ -d /sys/fs/cgroup/devices ]; then
		run_tool --separate-stderr env CTRKIT_EXPLAIN=1 ns-enter --rootfs "$rootfs" -- true
		assert_stderr_contains "$ echo a > /sys/fs/cgroup/devices/ctrkit/"
		assert_stderr_contains "$ echo 'c 1:3 rwm' > /sys/fs/cgroup/devices/ctrkit/"
	fi
}

@test "ns-enter --cgroups-path PATH --rootfs DIR [a cgroup that does not exist yet is made, used and removed]" {
	run_tool ns-enter --cgroups-path "/ctrkit/$name" --rootfs "$rootfs" -- cat /proc/self/cgroup
	assert_output --partial "/ctrkit/$name"
	run_tool cg-limit ls
	refute_output --partial "$name"
	# Any path, as containerd and docker give one (/NAMESPACE/ID): made,
	# used, removed; like runc, the parents made for it stay.
	run_tool ns-enter --cgroups-path "/$name-p/$name" --rootfs "$rootfs" -- cat /proc/self/cgroup
	assert_output --partial ":devices:/$name-p/$name"
	run_tool find /sys/fs/cgroup/devices/"$name-p" -mindepth 1 -type d
	assert_output ''
	run_tool cg-limit rm "/$name-p"
}

@test "ctr-run --rm busybox sh -c 'mknod /dev/x b 7 N && head /dev/x' [EPERM; /dev/null, zero, urandom work]" {
	requires overlay
	make_loop
	run_tool host ctr-run --rm --network none busybox sh -c "$(attack)"
	assert_line --partial "head: /dev/x: Operation not permitted"
	assert_line " loop=1"
	assert_line " kvm=1"
	assert_line --regexp '^ +\\0$'
	assert_line 4
	refute_output --partial ctrkit-loop-secret
}

@test "img-build: RUN mknod /dev/x b 7 N && head /dev/x [EPERM in a build step too]" {
	requires overlay
	make_loop
	local c=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$c"
	printf 'FROM busybox:latest\nRUN mknod /dev/x b 7 %s && head -c 18 /dev/x\n' "$minor" >"$c/Dockerfile"
	run_tool ! --separate-stderr img-build -t "ck-devices:$name" "$c"
	assert_stderr_contains "head: /dev/x: Operation not permitted"
	refute_output --partial ctrkit-loop-secret
}

@test "cg-limit run --device-cgroup-rule 'c 1:3 rwm' [only /dev/null opens]; cg-limit stats lists the rules" {
	run_tool ! --separate-stderr cg-limit run --device-cgroup-rule 'c 1:3 rwm' -- sh -c 'echo hi >/dev/null && echo null-ok; head -c1 /dev/zero'
	assert_output null-ok
	assert_stderr_contains "Operation not permitted"
	run_tool cg-limit run --privileged -- head -c1 /dev/zero
	run_tool --status 125 --separate-stderr cg-limit run --device-cgroup-rule 'c 1-3 rwm' -- true
	assert_stderr_contains 'TYPE MAJOR:MINOR ACCESS'
	run_tool cg-limit create "$name" --device-cgroup-rule 'c 1:3 rwm'
	run_tool cg-limit stats "$name"
	if [ -d /sys/fs/cgroup/devices ]; then
		assert_line "devices     c 1:3 rwm"
	else
		assert_line --regexp '^devices +bpf program id [0-9]+$'
	fi
}
