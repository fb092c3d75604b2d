#!/usr/bin/env bats
# What a container must not get from the host: the caller's open
# descriptors (CVE-2024-21626), a writable path to the runtime's binary
# (CVE-2019-5736), the caller's session keyring, and host users' access to
# its files through the store. Each test tries the attack.
# shellcheck disable=SC2154 # output, lines, stderr are set by bats' run

load helpers

setup_file() {
	load helpers
	requires root overlay busybox
	# A store host users could reach if its modes let them: under a 0755
	# directory, not bats' 0700 temp dir.
	SH=$(mktemp -d /tmp/ck-sec.XXXXXX)
	chmod 0755 "$SH"
	export SH CTRKIT_ROOT=$SH/root CTRKIT_STATE=$SH/state
	import_busybox
}

teardown_file() {
	[ -z "${SH-}" ] || rm -rf "$SH"
}

setup() {
	ROOTFS=$BATS_FILE_TMPDIR/rootfs
}

teardown() {
	local id
	for id in $(ctr-run ps -a 2>/dev/null | awk 'NR > 1 {print $1}'); do
		ctr-run rm -f "$id" >/dev/null 2>&1 || true
	done
	if [ -n "${TEST_USER-}" ]; then
		userdel "$TEST_USER" 2>/dev/null || true
	fi
}

# with_fd42 CMD…: CMD with fd 42 open on the host's /, as a careless caller
# would leave it.
with_fd42() {
	run_tool bash -c 'exec 42</ && exec "$@"' with_fd42 "$@"
}

refute_fd42() {
	refute_output --regexp '(^| )42 -> '
}

@test "( exec 42</ ; ls -l /proc/self/fd ) [the control: fd 42 is there without a container]" {
	with_fd42 ls -l /proc/self/fd
	assert_output --regexp ' 42 -> /$'
}

@test "( exec 42</ ; ns-enter --rootfs ROOTFS ls -l /proc/self/fd ) [fd 42 does not reach the container]" {
	with_fd42 ns-enter --rootfs "$ROOTFS" -- ls -l /proc/self/fd
	assert_output --partial ' 0 -> '
	refute_fd42
	# Nor with --init, where ns-enter forks the command.
	with_fd42 ns-enter --init --pid --rootfs "$ROOTFS" -- ls -l /proc/self/fd
	refute_fd42
	# Nor in the flags mode, without a root filesystem.
	with_fd42 ns-enter --pid --mount-proc -- ls -l /proc/self/fd
	refute_fd42
}

@test "ns-enter --preserve-fds 1 --rootfs ROOTFS cat <&3 [fd 3 is passed, fd 42 is not]" {
	echo passed-on >"$BATS_TEST_TMPDIR/three"
	# shellcheck disable=SC2016 # expanded by the inner bash
	run_tool bash -c 'exec 3<"$1" 42</ && exec ns-enter --preserve-fds 1 --rootfs "$2" -- sh -c "cat <&3; ls -l /proc/self/fd"' x "$BATS_TEST_TMPDIR/three" "$ROOTFS"
	assert_line passed-on
	refute_fd42
	# Asking for a descriptor that is not open is an error, before anything starts.
	run_tool --separate-stderr --status 125 ns-enter --preserve-fds 5 --rootfs "$ROOTFS" -- true
	assert_stderr_contains 'is not open'
}

@test "( exec 42</ ; ctr-run run --rm busybox ls -l /proc/self/fd ) [also -d, exec, and the supervisor]" {
	with_fd42 ctr-run run --rm --network none busybox ls -l /proc/self/fd
	assert_output --partial ' 0 -> '
	refute_fd42

	with_fd42 ctr-run run -d --network none busybox sh -c 'ls -l /proc/self/fd; echo listed; sleep 60'
	local id=$output
	for _ in $(seq 50); do
		ctr-run logs "$id" 2>/dev/null | grep -q listed && break
		sleep 0.1
	done
	run_tool ctr-run logs "$id"
	assert_line listed
	refute_fd42
	# The supervisor, which outlives the ctr-run that started it, holds none of them.
	local sup
	sup=$(find "$CTRKIT_STATE" -path "*$id*/supervisor" -exec cat {} \;)
	sup=${sup%@*} # PID@START
	[ -n "$sup" ] || fail "no supervisor pid for $id"
	run_tool ls -l "/proc/$sup/fd"
	refute_fd42

	with_fd42 ctr-run exec "$id" ls -l /proc/self/fd
	refute_fd42
	run_tool ctr-run rm -f "$id"
}

@test "img-build with fd 42 open [a RUN step does not get it]" {
	local c=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$c"
	printf 'FROM busybox:latest\nRUN ls -l /proc/self/fd; test ! -e /proc/self/fd/42\n' >"$c/Dockerfile"
	with_fd42 img-build -t "$(safename):1" "$c"
	refute_fd42
}

@test "ns-enter --init --pid --rootfs ROOTFS [/proc/1/exe is read-only and not the host's ns-enter]" {
	run_tool ns-enter --init --pid --rootfs "$ROOTFS" -- sh -c \
		'stat -L -c %d:%i /proc/1/exe; cat /proc/1/exe >/dev/null && echo readable; if (: >>/proc/1/exe); then echo WRITABLE; fi'
	assert_line readable
	refute_line WRITABLE
	assert_output --partial 'Read-only file system'
	local inside=${lines[0]}
	assert_equal "$(stat -L -c %d:%i "$BIN/ns-enter")" "$(stat -L -c %d:%i "$(command -v ns-enter)")"
	[ "$inside" != "$(stat -L -c %d:%i "$BIN/ns-enter")" ] || fail "/proc/1/exe is the host's ns-enter ($inside)"
	# The same through ctr-run --init.
	run_tool ctr-run run --rm --init --network none busybox sh -c 'if (: >>/proc/1/exe); then echo WRITABLE; fi'
	refute_line WRITABLE
}

@test "ns-enter with ctrkit.id ID [a new session keyring _ses.ID; --no-new-keyring keeps the caller's]" {
	local id
	id=$(safename)
	# /proc/keys lists the keys the reader may view, its own keyrings
	# included; the flags mode masks nothing.
	run_tool bash -o pipefail -c "ns-enter spec --pid --mount-proc -- cat /proc/keys | jq '.annotations[\"ctrkit.id\"] = \"$id\"' | ns-enter"
	assert_output --regexp " keyring +_ses\.$id: "
	# Another id: the first keyring lingers until the kernel's key
	# collector runs, soon after its last user ended.
	run_tool bash -o pipefail -c "ns-enter spec --pid --mount-proc -- cat /proc/keys | jq '.annotations[\"ctrkit.id\"] = \"$id-kept\"' | ns-enter --no-new-keyring"
	refute_output --partial "_ses.$id-kept"
	# ctr-run: the host sees the running container's keyring.
	run_tool ctr-run run -d --network none busybox sleep 60
	local cid=$output
	run_tool grep -c "_ses\.$cid" /proc/keys
	run_tool ctr-run rm -f "$cid"
}

@test "store modes [ROOT 0711; containers, layers, volumes, STATE 0700; an old 0755 store is tightened]" {
	run_tool ctr-run run --rm --network none -v "$(safename):/data" busybox true
	run_tool stat -c '%n %a' "$CTRKIT_ROOT" "$CTRKIT_ROOT/containers" "$CTRKIT_ROOT/layers" "$CTRKIT_ROOT/volumes" "$CTRKIT_STATE"
	assert_equal "$output" "$CTRKIT_ROOT 711
$CTRKIT_ROOT/containers 700
$CTRKIT_ROOT/layers 700
$CTRKIT_ROOT/volumes 700
$CTRKIT_STATE 700"
	# An old store, made with umask 022 before ctrkit cared.
	chmod 0755 "$CTRKIT_ROOT" "$CTRKIT_ROOT/containers" "$CTRKIT_ROOT/layers" "$CTRKIT_ROOT/volumes" "$CTRKIT_STATE"
	run_tool ctr-run run --rm --network none -v "$(safename):/data" busybox true
	run_tool stat -c '%a' "$CTRKIT_ROOT" "$CTRKIT_ROOT/containers" "$CTRKIT_ROOT/layers" "$CTRKIT_ROOT/volumes" "$CTRKIT_STATE"
	assert_equal "${lines[*]}" "711 700 700 700 700"
}

@test "host user vs a container's files [no setuid file from the upper dir, no listing of upper or a volume's _data]" {
	TEST_USER=$(safename)
	useradd --no-create-home --shell /bin/sh "$TEST_USER"
	local vol
	vol=$(safename)v
	run_tool ctr-run run -d --network none -v "$vol:/data" busybox sh -c \
		'cp /bin/busybox /suid && chmod 4755 /suid && touch /data/secret && echo ready && sleep 60'
	local id=$output
	for _ in $(seq 50); do
		ctr-run logs "$id" 2>/dev/null | grep -q ready && break
		sleep 0.1
	done
	local suid upper data
	suid=$(find "$CTRKIT_ROOT/containers" -path '*/upper/suid')
	[ -n "$suid" ] || fail "no /suid in an upper dir under $CTRKIT_ROOT/containers"
	upper=$(dirname "$suid")
	data=$CTRKIT_ROOT/volumes/$vol/_data
	[ -e "$data/secret" ] || fail "the volume has no secret file"
	# setpriv keeps root's capabilities until its execve, so the user's
	# shell does the lookups and the exec.
	as_user() { # as_user STATUS|! CMD…
		local expect=(--status "$1")
		[ "$1" != '!' ] || expect=('!')
		shift
		run_tool "${expect[@]}" setpriv --reuid="$TEST_USER" --regid="$TEST_USER" --clear-groups /bin/sh -c 'exec "$@"' sh "$@"
	}
	as_user 126 "$suid" id -u
	assert_output --partial 'Permission denied'
	as_user ! ls "$upper"
	assert_output --partial 'Permission denied'
	as_user ! ls "$data"
	assert_output --partial 'Permission denied'
	# The control: with docker-before-2021 modes, the same user gets in.
	chmod 0755 "$CTRKIT_ROOT/containers" "$CTRKIT_ROOT/volumes"
	as_user 0 ls "$data"
	assert_output secret
	chmod 0700 "$CTRKIT_ROOT/containers" "$CTRKIT_ROOT/volumes"
	run_tool ctr-run rm -f "$id"
}
