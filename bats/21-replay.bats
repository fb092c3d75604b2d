#!/usr/bin/env bats
# An --explain transcript is a script: the shell halves of what ctr-run did,
# typed back into bash with stock tools (util-linux, iproute2, nftables,
# coreutils), make the same container. Both runs happen in network
# namespaces of their own, each playing a fresh host.

load helpers

setup() {
	requires root overlay busybox
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	name=$(safename)
	dir=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/ck-replay.XXXXXX")
	chmod 755 "$dir"
	export CTRKIT_ROOT=$dir/root CTRKIT_STATE=$dir/state
	run_tool "$REPO/scripts/mk-image.sh"
	id=
	# The replay makes the ctrkit parent cgroups where ctr-run's rm
	# removed them; teardown removes those that were not here before.
	parents_before=$(ls -d /sys/fs/cgroup/ctrkit /sys/fs/cgroup/*/ctrkit 2>/dev/null || true)
}

# teardown undoes the replay by hand: no ctr-run state records it.
teardown() {
	local f p i
	if [ -n "$id" ]; then
		for f in /sys/fs/cgroup/ctrkit/"$id"/cgroup.procs /sys/fs/cgroup/*/ctrkit/"$id"/cgroup.procs; do
			[ -f "$f" ] || continue
			for p in $(cat "$f"); do kill -KILL "$p" 2>/dev/null || true; done
		done
		for i in $(seq 50); do
			findmnt -rn -o TARGET | grep -qF "$dir/" || break
			umount -R "$CTRKIT_STATE/$id/rootfs" 2>/dev/null || sleep 0.1
		done
		ip netns del "ck-$id" 2>/dev/null || true
		for f in /sys/fs/cgroup/ctrkit/"$id" /sys/fs/cgroup/*/ctrkit/"$id"; do
			[ -d "$f" ] || continue
			for i in $(seq 50); do rmdir "$f" 2>/dev/null && break; sleep 0.1; done
		done
		for f in /sys/fs/cgroup/ctrkit /sys/fs/cgroup/*/ctrkit; do
			[ -d "$f" ] && ! grep -qxF "$f" <<<"$parents_before" || continue
			rmdir "$f" 2>/dev/null || true
		done
	fi
	ip netns del "$name-a" 2>/dev/null || true
	ip netns del "$name-h" 2>/dev/null || true
	if ! findmnt -rn -o TARGET | grep -qF "$dir/"; then
		rm -rf "$dir"
	fi
}

@test "ctr-run -d --explain -m 64m -p [the transcript replays with bash to a working container]" {
	ip netns add "$name-a"
	ip -n "$name-a" link set lo up
	run_tool --separate-stderr nsenter --net=/run/netns/"$name-a" \
		ctr-run -d --explain -m 64m -p 8080:80 busybox httpd -f -p 80 -h /etc
	id=$output
	printf '%s\n' "$stderr" >"$dir/transcript"
	# -d: the supervisor's and the container's steps are on our stderr...
	assert_stderr_contains '[ns-enter] pivot_root('
	assert_stderr_contains '[ns-enter] execve("/usr/sbin/httpd"'
	# ...and not in the container's log.
	run_tool ctr-run logs "$id"
	refute_output --partial '[ns-enter]'
	run_tool nsenter --net=/run/netns/"$name-a" ctr-run rm -f "$id"
	ip netns del "$name-a"

	run_tool "$REPO/scripts/replay.sh" "$dir/transcript"
	refute_output --partial '…' # nothing elided: every step is there to type
	printf '%s\n' "$output" >"$dir/replay.sh"

	# A fresh host: the image in the store (pulled), no layer unpacked yet.
	find "$CTRKIT_ROOT/layers" -mindepth 1 -maxdepth 1 ! -name l ! -name tmp -exec rm -rf {} +
	find "$CTRKIT_ROOT/layers/l" -mindepth 1 -delete
	ip netns add "$name-h"
	ip -n "$name-h" link set lo up
	# bash < script: the shells the script starts (unshare … bash) read
	# the rest of it. SHELLOPTS passes errexit to them.
	env SHELLOPTS=errexit setsid nsenter --net=/run/netns/"$name-h" bash <"$dir/replay.sh" >"$dir/replay.log" 2>&1 3>&- &

	local i answer=
	for i in $(seq 100); do
		answer=$(nsenter --net=/run/netns/"$name-h" timeout 2 busybox wget -qO- http://127.0.0.1:8080/hostname 2>/dev/null) && break
		sleep 0.1
	done
	[ "$answer" = "$id" ] || fail "the replayed container did not answer on 127.0.0.1:8080 ('$answer'); the replay said: $(cat "$dir/replay.log")"

	# Its one process is httpd, PID 1 of its own pid namespace, in a
	# memory cgroup limited to 64 MiB.
	local cg limit
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
		cg=/sys/fs/cgroup/ctrkit/$id limit=memory.max
	else
		cg=/sys/fs/cgroup/memory/ctrkit/$id limit=memory.limit_in_bytes
	fi
	run_tool cat "$cg/$limit"
	assert_output 67108864
	run_tool cat "$cg/cgroup.procs"
	assert_equal "${#lines[@]}" 1
	run_tool cat "/proc/${lines[0]}/comm"
	assert_output httpd
	run_tool grep -E '^NSpid:' "/proc/$(cat "$cg/cgroup.procs")/status"
	assert_output --regexp '^NSpid:[[:space:]]+[0-9]+[[:space:]]+1$'
}

@test "ctr-run -d --explain --userns [the transcript replays: root inside is uid 100000 outside]" {
	ip netns add "$name-a"
	run_tool --separate-stderr nsenter --net=/run/netns/"$name-a" \
		ctr-run -d --explain --userns --network none busybox sleep 1000
	id=$output
	printf '%s\n' "$stderr" >"$dir/transcript"
	run_tool nsenter --net=/run/netns/"$name-a" ctr-run rm -f "$id"
	ip netns del "$name-a"
	run_tool "$REPO/scripts/replay.sh" "$dir/transcript"
	refute_output --partial '…'
	# The maps go to a process everyone can name, not to ns-enter's PID.
	assert_output --partial "printf '%s\n' '0 100000 65536' > /proc/\$userns/uid_map"
	printf '%s\n' "$output" >"$dir/replay.sh"

	find "$CTRKIT_ROOT/layers" -mindepth 1 -maxdepth 1 ! -name l ! -name tmp -exec rm -rf {} +
	find "$CTRKIT_ROOT/layers/l" -mindepth 1 -delete
	ip netns add "$name-h"
	env SHELLOPTS=errexit setsid nsenter --net=/run/netns/"$name-h" bash <"$dir/replay.sh" >"$dir/replay.log" 2>&1 3>&- &

	local cg i pid=
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then cg=/sys/fs/cgroup/ctrkit/$id; else cg=/sys/fs/cgroup/memory/ctrkit/$id; fi
	for i in $(seq 100); do
		for p in $(cat "$cg/cgroup.procs" 2>/dev/null); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sleep ] && pid=$p
		done
		[ -z "$pid" ] || break
		sleep 0.1
	done
	[ -n "$pid" ] || fail "the replayed container's sleep did not start; the replay said: $(cat "$dir/replay.log")"
	# Root inside, uid 100000 outside, PID 1 of its own pid namespace, on
	# the layer whose owners were shifted to 100000.
	run_tool cat "/proc/$pid/uid_map"
	assert_output --regexp '^ +0 +100000 +65536$'
	run_tool grep -E '^Uid:' "/proc/$pid/status"
	assert_output --regexp '^Uid:[[:space:]]+100000[[:space:]]'
	run_tool grep -E '^NSpid:' "/proc/$pid/status"
	assert_output --regexp '[[:space:]]1$'
	run_tool stat -c %u "/proc/$pid/root/bin/busybox"
	assert_output 100000
}
