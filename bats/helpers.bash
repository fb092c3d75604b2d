# shellcheck shell=bash
# shellcheck disable=SC2154 # status, output, stderr are set by bats' run
# helpers.bash — shared by every ctrkit bats file:  load helpers
#
#   run_tool [--status N|!] [--stdin FILE] [--separate-stderr] CMD ARGS...
#   requires root|overlay|cgroup1|cgroup2|userns|runc|crun|busybox ...
#   safename            a per-test name: ck-t<6 hex>, kernel-object safe
#   make_rootfs DIR     a busybox root filesystem, built once per suite
#   assert_stderr_contains TEXT / refute_stderr_contains TEXT
#   leak_check          list ctrkit leftovers; fails if there are any

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'
load '/usr/lib/bats/bats-file/load'

# Flags on `run` (--separate-stderr) need this, or bats 1.8 warns (BW02).
bats_require_minimum_version 1.5.0

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$REPO/bin
case ":$PATH:" in
*":$BIN:"*) ;;
*) PATH=$BIN:$PATH ;;
esac
export REPO BIN PATH

# run_tool runs one command the way a test should: the command line and its
# output are logged into the test's output (shown when the test fails), it
# gets `timeout ${CTRKIT_TEST_TIMEOUT:-60}`, stdin from /dev/null, and fd 3
# closed so a background child cannot keep bats waiting.  Then the exit
# status is checked: 0 by default, N with `--status N`, non-zero with `!`.
# As with bats' `run`, $status, $output and $lines are set; with
# --separate-stderr also $stderr and $stderr_lines.
run_tool() {
	local expected=0 stdin=/dev/null separate=0
	local -a run_flags=()
	while [ "$#" -gt 0 ]; do
		case $1 in
		--status) expected=$2; shift 2 ;;
		'!') expected='!'; shift ;;
		--stdin) stdin=$2; shift 2 ;;
		--separate-stderr) run_flags+=(--separate-stderr); separate=1; shift ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	[ "$#" -gt 0 ] || fail "run_tool: no command given"

	# bats warns (BW01) about status 127 unless told it is expected.
	[ "$expected" != 127 ] || run_flags+=(-127)

	local timeout=${CTRKIT_TEST_TIMEOUT:-60} cmdline started=$SECONDS
	cmdline=$(_shell_quote "$@")
	echo "\$ $cmdline"
	run "${run_flags[@]}" _run_tool_exec "$stdin" timeout --kill-after=5 "$timeout" "$@"
	[ -z "$output" ] || printf '%s\n' "$output"
	if [ "$separate" = 1 ] && [ -n "$stderr" ]; then
		printf '[stderr] %s\n' "$stderr"
	fi

	# timeout(1) exits 124 when it sent TERM, 137 when it had to KILL; a
	# container killed by SIGKILL also gives 137, hence the clock.
	if [ "$expected" != "$status" ] && { [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; } &&
		[ $((SECONDS - started)) -ge "$timeout" ]; then
		fail "run_tool: $cmdline: timed out after ${timeout}s (CTRKIT_TEST_TIMEOUT), status $status"
	elif [ "$expected" = '!' ]; then
		[ "$status" -ne 0 ] || fail "run_tool: $cmdline: exited 0, expected a failure"
	elif [ "$status" -ne "$expected" ]; then
		fail "run_tool: $cmdline: exited $status, expected $expected"
	fi
}

# _shell_quote ARGS...: the arguments as one line a shell would read back,
# quoting only where needed:  sh -c 'exit 3'
_shell_quote() {
	local arg out=()
	for arg in "$@"; do
		if [[ $arg =~ ^[][A-Za-z0-9_./:=,+@%^-]+$ ]]; then
			out+=("$arg")
		else
			out+=("'${arg//\'/\'\\\'\'}'")
		fi
	done
	echo "${out[*]}"
}

# _run_tool_exec STDIN CMD...: fd 3 is closed for the command only; bats'
# own `run` writes its warnings to fd 3, so it must stay open there.
_run_tool_exec() {
	local stdin=$1
	shift
	"$@" <"$stdin" 3>&-
}

# assert_stderr_contains TEXT: bats-assert 2.1.0 has no assert_stderr; use
# after `run_tool --separate-stderr ...`.
assert_stderr_contains() {
	[[ ${stderr-} == *"$1"* ]] && return 0
	batslib_print_kv_single_or_multi 9 substring "$1" stderr "${stderr-}" |
		batslib_decorate 'stderr does not contain substring' | fail
}

refute_stderr_contains() {
	[[ ${stderr-} != *"$1"* ]] && return 0
	batslib_print_kv_single_or_multi 9 substring "$1" stderr "${stderr-}" |
		batslib_decorate 'stderr should not contain substring' | fail
}

# wait_for CMD…: run CMD every 10 ms until it succeeds (10 s at most).
wait_for() {
	local _
	for _ in $(seq 1000); do
		"$@" 2>/dev/null && return 0
		sleep 0.01
	done
	fail "wait_for: $* never succeeded"
}

# requires WHAT...: skip the test, with the reason, unless the host has it.
requires() {
	local what
	for what in "$@"; do
		case $what in
		root)
			[ "$(id -u)" -eq 0 ] || skip "needs root"
			;;
		overlay)
			grep -qw overlay /proc/filesystems ||
				skip "needs overlayfs (modprobe overlay)"
			;;
		cgroup2)
			[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] ||
				skip "needs cgroup v2 mounted at /sys/fs/cgroup (unified mode)"
			;;
		cgroup1)
			findmnt -rn -t cgroup >/dev/null ||
				skip "needs cgroup v1 hierarchies mounted"
			;;
		userns)
			if ! unshare --user true 2>/dev/null; then
				skip "needs user namespaces (sysctl user.max_user_namespaces > 0)"
			fi
			;;
		runc | crun)
			command -v "$what" >/dev/null || skip "needs $what (apt-get install $what)"
			;;
		busybox)
			[ -x /bin/busybox ] || skip "needs /bin/busybox (apt-get install busybox-static)"
			;;
		*)
			fail "requires: unknown requirement '$what'"
			;;
		esac
	done
}

# safename prints a name for kernel objects (links, netns, cgroups,
# containers) that is the same throughout one test and different in every
# other: "ck-t" and 6 random hex digits, 10 characters, leaving room under
# the 15-character limit of interface names for a suffix like "-h".
safename() {
	local dir=$BATS_SUITE_TMPDIR/.safename
	local file=$dir/${BATS_SUITE_TEST_NUMBER:-0}
	mkdir -p "$dir"
	if [ ! -s "$file" ]; then
		local name
		while :; do
			name=$(printf 'ck-t%06x' $(((RANDOM << 15 | RANDOM) & 0xffffff)))
			grep -qsxF "$name" "$dir"/* || break
		done
		echo "$name" >"$file"
	fi
	cat "$file"
}

# make_rootfs DIR copies a busybox root filesystem (scripts/mk-rootfs.sh)
# into DIR; it is built once per suite and then copied, which is fast.
make_rootfs() {
	local dir=${1:?make_rootfs DIR}
	local cache=$BATS_SUITE_TMPDIR/rootfs-cache
	# A lock, since `bats -j` may run several tests at once.
	(
		flock 9
		if [ ! -d "$cache" ]; then
			rm -rf "$cache.new"
			"$REPO/scripts/mk-rootfs.sh" "$cache.new" >&2 && mv "$cache.new" "$cache"
		fi
	) 9>"$BATS_SUITE_TMPDIR/.rootfs.lock" || fail "make_rootfs: scripts/mk-rootfs.sh failed"
	mkdir -p "$dir"
	cp -a "$cache/." "$dir/"
}

# leak_check lists what ctrkit left on the host and fails if anything is
# there that was not already there when the suite started (the baseline
# setup_suite records).  It never removes anything: it only reports.
#   leak_check              report leftovers, return 1 if any
#   leak_check --list       print the current list, whatever it is
leak_check() {
	local list
	list=$(_leak_list)
	if [ "${1-}" = --list ]; then
		[ -z "$list" ] || printf '%s\n' "$list"
		return 0
	fi
	local baseline=${CTRKIT_LEAK_BASELINE:-}
	if [ -n "$baseline" ] && [ -f "$baseline" ]; then
		list=$(comm -23 <(printf '%s\n' "$list" | sort -u) <(sort -u "$baseline") | sed '/^$/d')
	fi
	if [ -n "$list" ]; then
		echo "leak check: ctrkit left these behind:" >&2
		printf '%s\n' "$list" | sed 's/^/  /' >&2
		return 1
	fi
}

# _leak_list prints one line per ctrkit object found: "KIND NAME ...".
_leak_list() {
	local tmp=${BATS_RUN_TMPDIR:-${BATS_SUITE_TMPDIR:-/nonexistent}}
	local target source name rest

	# Mounts: ours carry "ctrkit" in target or source, or live in bats' dirs.
	while read -r target source; do
		case "$target $source" in
		*ctrkit* | "$tmp"/*) echo "mount $target (source $source)" ;;
		esac
	done < <(findmnt -rn -o TARGET,SOURCE 2>/dev/null)

	if command -v ip >/dev/null; then
		while read -r name rest; do
			case $name in ck-* | ctrkit*) echo "netns $name" ;; esac
		done < <(ip netns list 2>/dev/null)
		# "7: ck-t1a2b3c@if6: <BROADCAST,...> ..." -> ck-t1a2b3c
		while read -r _ name rest; do
			name=${name%:}
			name=${name%%@*}
			case $name in ck-* | ctrkit*) echo "link $name" ;; esac
		done < <(ip -o link show 2>/dev/null)
	fi

	# Cgroups: /sys/fs/cgroup/<ctrkit> (v2), /sys/fs/cgroup/<ctrl>/<ctrkit>
	# (v1), one level more for a parent slice (or an img-build RUN step's
	# ckb-…); deeper is too slow to walk.
	find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d \
		\( -name 'ctrkit*' -o -name 'ck-*' -o -name 'ckb-*' \) -printf 'cgroup %p\n' 2>/dev/null

	if command -v nft >/dev/null; then
		# "table inet ctrkit"
		while read -r _ _ name; do
			case $name in ctrkit*) echo "nft-table $name" ;; esac
		done < <(nft list tables 2>/dev/null)
	fi

	# Processes still running one of our binaries.
	local dir
	while read -r dir; do
		echo "process ${dir#/proc/} $(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null)"
	done < <(find /proc -mindepth 2 -maxdepth 2 -name exe -lname "$BIN/*" -printf '%h\n' 2>/dev/null)

	# The default store's cache (ns-enter's compiled seccomp filters), which
	# a runtime run without CTRKIT_ROOT would make.
	[ ! -e /var/lib/ctrkit/cache ] || echo "cache /var/lib/ctrkit/cache"

	# Runtime state directories (the suite's own CTRKIT_STATE).
	if [ -n "${CTRKIT_STATE:-}" ] && [ -d "$CTRKIT_STATE" ]; then
		find "$CTRKIT_STATE" -mindepth 1 -maxdepth 1 -printf 'state %p\n'
	fi
}

# import_busybox: the offline busybox image (a rootfs made by make_rootfs,
# as a tar) imported into the file's store, CTRKIT_ROOT (call it from
# setup_file).
import_busybox() {
	make_rootfs "$BATS_FILE_TMPDIR/rootfs"
	tar -C "$BATS_FILE_TMPDIR/rootfs" -cf "$BATS_FILE_TMPDIR/busybox.tar" .
	img-pull import --cmd=sh "$BATS_FILE_TMPDIR/busybox.tar" busybox:latest >/dev/null 2>&1
}

# remove_host_containers: whatever containers a failed test left in the
# file's "host", removed the way a user would (call it from teardown).
remove_host_containers() {
	local id
	for id in $(host ctr-run ps -a 2>/dev/null | awk 'NR > 1 {print $1}'); do
		host ctr-run rm -f "$id" >/dev/null 2>&1 || true
	done
}

# make_host_netns: a network namespace playing the "host" for a test file
# (call it from setup_file), so bridges, NAT rules and published ports never
# touch the real host's network; sets and exports HOSTNS, and writes a
# `host CMD…` script that runs CMD there (a script, so run_tool's timeout
# can run it) into $BATS_FILE_TMPDIR/bin, which `setup` puts on PATH.
# Remove it with `ip netns del "$HOSTNS"` in teardown_file.
make_host_netns() {
	HOSTNS=ck-t$(printf '%06x' $((RANDOM << 8 | RANDOM & 255)))-h
	export HOSTNS
	ip netns add "$HOSTNS"
	ip -n "$HOSTNS" link set lo up
	# Forwarding on, as on a host that runs containers: a new namespace
	# copies the machine's setting, and net-bridge notes turning it on.
	ip netns exec "$HOSTNS" sysctl -qw net.ipv4.ip_forward=1
	mkdir -p "$BATS_FILE_TMPDIR/bin"
	printf '#!/bin/sh\nexec nsenter --net=/run/netns/%s "$@"\n' "$HOSTNS" >"$BATS_FILE_TMPDIR/bin/host"
	chmod +x "$BATS_FILE_TMPDIR/bin/host"
}
