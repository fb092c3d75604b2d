#!/usr/bin/env bats
# shellcheck disable=SC2154 # status, output, stderr are set by bats' run
# shellcheck disable=SC2016 # $ in single quotes is for the shell inside
# ns-enter, one namespace kind at a time: what the kernel shows inside, and
# that the host does not see it.  Cross-checked with readlink /proc/PID/ns/*,
# ip, ipcs, findmnt, stat and /proc/PID/{status,uid_map,cgroup}.
# The rest (--target, specs, bundles, exit status, signals, errors) is in
# 10-ns-enter-run.bats.

load ns-enter

@test "ns-enter --pid --mount-proc ps [the command is PID 1]" {
	requires root
	run_tool ns-enter --pid --mount-proc -- ps -e -o pid=,comm=
	# Only itself: the host's processes are not in its pid namespace.
	assert_output --regexp '^ +1 ps$'
	run_tool ns-enter --pid -- sh -c 'echo $$; readlink /proc/self/ns/pid'
	assert_line --index 0 1
	refute_line --index 1 "$(readlink /proc/self/ns/pid)"
}

@test "ns-enter --hostname box hostname [invisible outside]" {
	requires root
	local before
	before=$(hostname)
	[ "$before" != box ]
	run_tool ns-enter --hostname box -- sh -c 'hostname; readlink /proc/self/ns/uts'
	assert_line --index 0 box
	refute_line --index 1 "$(readlink /proc/self/ns/uts)"
	assert_equal "$(hostname)" "$before"
	assert_equal "$(cat /proc/sys/kernel/hostname)" "$before"
}

@test "ns-enter --net ip -o link [only lo, down]" {
	requires root
	run_tool ns-enter --net -- ip -o link show
	assert_equal "${#lines[@]}" 1
	assert_output --regexp '^1: lo: <LOOPBACK> .* state DOWN '
	# The host's own devices are still there, and not inside.
	run_tool ip -o link show
	[ "${#lines[@]}" -gt 1 ]
	run_tool ns-enter --net -- readlink /proc/self/ns/net
	refute_output "$(readlink /proc/self/ns/net)"
}

@test "ns-enter --ipc sh -c 'ipcmk -Q; ipcs -q' [the queue is invisible outside]" {
	requires root
	local before
	before=$(ipcs -q)
	run_tool ns-enter --ipc -- sh -c 'ipcmk -Q >/dev/null && ipcs -q | grep -c "^0x"'
	# One queue inside: the one just made, none of the host's.
	assert_output 1
	# Outside: the same queues as before (a queue made in the host's IPC
	# namespace would outlive the command).
	assert_equal "$(ipcs -q)" "$before"
}

@test "ns-enter --mount sh -c 'mount -t tmpfs ...; findmnt' [invisible outside]" {
	requires root
	local dir=$BATS_TEST_TMPDIR/m
	mkdir "$dir"
	# Source "ctrkit-test": the suite-end leak check reports it if it leaks.
	run_tool ns-enter --mount -- sh -c "mount -t tmpfs ctrkit-test '$dir' && findmnt -n -o SOURCE,FSTYPE '$dir'"
	assert_output --regexp '^ctrkit-test +tmpfs$'
	run_tool --status 1 findmnt "$dir"
	assert_output ''
	run_tool --status 1 grep -F " $dir " /proc/self/mountinfo
}

@test "ns-enter --uid-map '0 100000 65536' [root inside is uid 100000 outside: /proc/PID/status, uid_map]" {
	requires root userns
	bg_ns_enter --user --uid-map "0 100000 65536" -- sleep 30
	local pid
	pid=$(wait_child sleep)
	run_tool grep -E '^(Uid|Gid):' "/proc/$pid/status"
	assert_line --regexp '^Uid:\s+100000\s+100000\s+100000\s+100000$'
	# --gid-map defaults to the uid map.
	assert_line --regexp '^Gid:\s+100000\s+100000\s+100000\s+100000$'
	run_tool cat "/proc/$pid/uid_map"
	assert_output --regexp '^ +0 +100000 +65536$'
	run_tool cat "/proc/$pid/gid_map"
	assert_output --regexp '^ +0 +100000 +65536$'
	[ "$(ns_inode "$pid" user)" != "$(ns_inode self user)" ]
}

@test "ns-enter --uid-map '0 100000 65536' sh -c 'id -u; touch FILE' [stat on the host: 100000]" {
	requires root userns
	# uid 100000 cannot walk bats' 0700 temp dirs: use a dir of its own.
	local dir
	dir=$(mktemp -d /tmp/ck-userns.XXXXXX)
	on_teardown rm -rf "$dir"
	chmod 1777 "$dir"
	run_tool ns-enter --uid-map "0 100000 65536" -- sh -c "id -u; id -g; touch '$dir/f'; stat -c %u:%g /etc/passwd"
	assert_line --index 0 0
	assert_line --index 1 0
	# A file of the host's root is owned by the overflow id inside.
	assert_line --index 2 65534:65534
	run_tool stat -c %u:%g "$dir/f"
	assert_output 100000:100000
}

@test "ns-enter --map-root cat /proc/self/uid_map [root inside is the caller]" {
	requires root userns
	run_tool ns-enter --map-root -- sh -c 'id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user'
	assert_line --index 0 0
	assert_line --index 1 --regexp "^ +0 +$(id -u) +1$"
	refute_line --index 2 "$(readlink /proc/self/ns/user)"
}

@test "ns-enter --cgroup cat /proc/self/cgroup [the current cgroup is /]" {
	requires root cgroup1
	[ -d /sys/fs/cgroup/pids ] || skip "needs the cgroup v1 pids hierarchy at /sys/fs/cgroup/pids"
	local cg
	cg=/sys/fs/cgroup/pids/$(safename)
	mkdir "$cg"
	on_teardown rmdir "$cg"
	# Moved into a throwaway cgroup first, so the host's view is not "/".
	run_tool sh -c "echo \$\$ >'$cg/cgroup.procs' && grep :pids: /proc/self/cgroup && exec ns-enter --cgroup -- cat /proc/self/cgroup"
	assert_line --index 0 --regexp ":pids:/$(safename)\$"
	assert_line --regexp '^[0-9]+:pids:/$'
	assert_line '0::/'
	# Every hierarchy is seen from its own root.
	run_tool bash -o pipefail -c "ns-enter --cgroup -- cat /proc/self/cgroup | grep -v ':/\$' || true"
	assert_output ''
}

@test "ns-enter --rootfs ROOTFS ls / [pivot_root into the busybox rootfs]" {
	requires root busybox
	run_tool ns-enter --rootfs "$ROOTFS" -- sh -c 'ls /; readlink /bin/sh; cat /etc/hostname'
	assert_output "$(ls "$ROOTFS")"$'\n/bin/busybox\nctrkit'
	# pivot_root left nothing of it mounted on the host.
	run_tool --status 1 findmnt -R "$ROOTFS"
}

@test "ns-enter --rootfs ROOTFS ls /dev [null zero full random urandom tty ptmx pts shm mqueue]" {
	requires root busybox
	run_tool ns-enter --rootfs "$ROOTFS" -- sh -c 'ls /dev; stat -c "%n %F %t,%T" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; grep -E " /dev(/pts|/shm|/mqueue)? " /proc/self/mounts | cut -d" " -f2,3'
	local d
	for d in null zero full random urandom tty ptmx pts shm mqueue; do
		assert_line "$d"
	done
	assert_line '/dev/null character special file 1,3'
	assert_line '/dev/zero character special file 1,5'
	assert_line '/dev/full character special file 1,7'
	assert_line '/dev/random character special file 1,8'
	assert_line '/dev/urandom character special file 1,9'
	assert_line '/dev/tty character special file 5,0'
	assert_line '/dev tmpfs'
	assert_line '/dev/pts devpts'
	assert_line '/dev/shm tmpfs'
	assert_line '/dev/mqueue mqueue'
	# Only those: no host device leaks in.
	refute_line sda
	refute_line vda
	refute_line kmsg
}

@test "ns-enter --rootfs ROOTFS touch /sys/x [/sys is read-only, /proc paths masked]" {
	requires root busybox
	# The last write fails, and its status is sh's.
	run_tool --status 1 ns-enter --rootfs "$ROOTFS" -- sh -c 'grep " /sys " /proc/self/mounts; touch /sys/x 2>&1; stat -c "%t,%T" /proc/keys /proc/timer_list; wc -c </proc/keys; ls -A /sys/firmware | wc -l; echo 1 >/proc/sys/kernel/ns_last_pid 2>&1'
	assert_line --regexp '^sysfs /sys sysfs ro,'
	assert_line --partial "touch: /sys/x: Read-only file system"
	# Masked as docker does: /dev/null bound over files, an empty tmpfs over
	# directories; /proc/sys read-only.
	assert_line --index 2 1,3
	assert_line --index 3 1,3
	assert_line --index 4 0
	assert_line --index 5 0
	assert_line --index 6 --partial "/proc/sys/kernel/ns_last_pid: Read-only file system"
	# /proc/kcore is masked too, where the kernel has one (not every kernel does).
	if [ -e /proc/kcore ]; then
		run_tool ns-enter --rootfs "$ROOTFS" -- stat -c %s /proc/kcore
		assert_output 0
	fi
}

@test "ns-enter --rootfs ROOTFS grep Cap /proc/self/status [docker's capabilities, no_new_privs]" {
	requires root busybox
	run_tool ns-enter --rootfs "$ROOTFS" -- grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):' /proc/self/status
	assert_line --regexp '^CapEff:\s+00000000a80425fb$'
	assert_line --regexp '^CapPrm:\s+00000000a80425fb$'
	assert_line --regexp '^CapBnd:\s+00000000a80425fb$'
	assert_line --regexp '^CapInh:\s+0000000000000000$'
	assert_line --regexp '^CapAmb:\s+0000000000000000$'
	assert_line --regexp '^NoNewPrivs:\s+1$'
	# Without a rootfs (like unshare): all of root's capabilities kept.
	run_tool ns-enter --uts -- grep -E '^(CapEff|NoNewPrivs):' /proc/self/status
	assert_line "$(grep '^CapEff:' /proc/self/status)"
	assert_line --regexp '^NoNewPrivs:\s+0$'
}

@test "ns-enter --uts -e FOO=bar -w /tmp sh -c 'echo \$FOO; pwd'" {
	requires root
	run_tool ns-enter --uts -e FOO=bar -w /tmp -- sh -c 'echo "$FOO"; pwd'
	assert_output $'bar\n/tmp'
}

@test "ns-enter show PID [HOST no for the namespaces it does not share]" {
	requires root
	bg_ns_enter --uts --net --hostname "$(safename)" -- sleep 30
	local pid kind inode host
	pid=$(wait_child sleep)
	run_tool --separate-stderr ns-enter show "$pid"
	assert_line --index 0 --regexp '^NS +INODE +HOST +ISOLATES$'
	assert_equal "${#lines[@]}" 9
	for kind in uts net ipc pid mnt user cgroup time; do
		read -r inode host < <(awk -v k="$kind" '$1 == k {print $2, $3}' <<<"$output")
		assert_equal "$inode" "$(ns_inode "$pid" "$kind")"
		case $kind in
		uts | net) assert_equal "$host" no ;;
		*) assert_equal "$host" yes ;;
		esac
	done
}

@test "ns-enter show [ns-enter's own namespaces: all the host's]" {
	requires root
	local kind inode host
	run_tool --separate-stderr ns-enter show
	for kind in uts net ipc pid mnt user cgroup; do
		read -r inode host < <(awk -v k="$kind" '$1 == k {print $2, $3}' <<<"$output")
		assert_equal "$inode" "$(ns_inode $$ "$kind")"
		assert_equal "$host" yes
	done
}

@test "ns-enter --explain --hostname box true [each step: KERNEL CALL  \$ SHELL EQUIVALENT]" {
	requires root
	run_tool --separate-stderr ns-enter --explain --hostname box -- true
	assert_output ''
	assert_stderr_contains '[ns-enter] clone(CLONE_NEWUTS|SIGCHLD)  $ unshare --fork --uts'
	assert_stderr_contains '[ns-enter] sethostname("box")  $ hostname box'
	assert_stderr_contains '[ns-enter] execve("/usr/bin/true", ["true"])  $ exec true'
	local line
	for line in "${stderr_lines[@]}"; do
		[[ $line =~ ^\[ns-enter\]\ (.+\ \ \$\ .+|#\ .+)$ ]] ||
			fail "not an explain line: '$line'"
	done
	# $CTRKIT_EXPLAIN does the same.
	CTRKIT_EXPLAIN=1 run_tool --separate-stderr ns-enter --hostname box -- true
	assert_stderr_contains 'sethostname("box")'
}

@test "ns-enter --explain --pid --rootfs ROOTFS true [clone, bind mount, pivot_root]" {
	requires root busybox
	run_tool --separate-stderr ns-enter --explain --pid --rootfs "$ROOTFS" -- true
	assert_stderr_contains '[ns-enter] clone(CLONE_NEWPID|CLONE_NEWNS|SIGCHLD)  $ unshare --fork --pid --mount'
	assert_stderr_contains "[ns-enter] mount(\"$ROOTFS\", \"$ROOTFS\", \"\", MS_BIND|MS_REC, \"\")  \$ mount --rbind $ROOTFS $ROOTFS"
	assert_stderr_contains '[ns-enter] pivot_root(".", ".")  $ pivot_root . .'
}

@test "ns-enter --pid --mount-proc --hostname box --rootfs ROOTFS true [silent without --explain]" {
	requires root busybox
	run_tool --separate-stderr ns-enter --pid --mount-proc --hostname box --rootfs "$ROOTFS" -- true
	assert_output ''
	assert_equal "$stderr" ''
}

@test "ns-enter --explain --rootfs ROOTFS true [the setpriv line it prints gives the same bounding set]" {
	requires root busybox
	run_tool --separate-stderr ns-enter --explain --rootfs "$ROOTFS" -- grep CapBnd /proc/self/status
	local inside=$output line
	line=$(grep -o 'setpriv --bounding-set=[a-z_,+-]*' <<<"$stderr")
	[ -n "$line" ] || fail "no setpriv --bounding-set line in the explain output"
	run_tool $line grep CapBnd /proc/self/status
	assert_equal "$output" "$inside"
}
