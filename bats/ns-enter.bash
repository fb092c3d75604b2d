# shellcheck shell=bash
# shellcheck disable=SC2034 # BG_PID, WAIT_STATUS are for the test files
# ns-enter.bash — shared by bats/10-ns-enter*.bats:  load ns-enter
#
#   setup_file / teardown    one busybox rootfs per file in $ROOTFS; every
#                            background ns-enter killed by PID afterwards
#   bg_ns_enter ARGS...      ns-enter ARGS in the background; sets BG_PID
#   wait_child COMM          the PID of BG_PID's child once it runs COMM
#   wait_exit PID            PID's exit status in $WAIT_STATUS (it must end
#                            within 3s)
#   ns_inode PID KIND        the namespace inode, as readlink(1) shows it
#   on_teardown CMD ARGS...  run CMD ARGS in teardown (after the kills)

load helpers

setup_file() {
	export ROOTFS=$BATS_FILE_TMPDIR/rootfs
	if [ -x /bin/busybox ]; then
		make_rootfs "$ROOTFS"
	fi
}

# bg_ns_enter ARGS...: starts `ns-enter ARGS` in the background with stdin
# /dev/null (so no spec is read), its output in $BATS_TEST_TMPDIR/bg.out and
# fd 3 closed; its PID goes to $BG_PID and to the list teardown kills.
# SIGINT is reset to the default: bash starts background jobs with it
# ignored, and an ignored signal stays ignored across exec.
bg_ns_enter() {
	env --default-signal=INT ns-enter "$@" </dev/null >"$BATS_TEST_TMPDIR/bg.out" 2>&1 3>&- &
	BG_PID=$!
	echo "$BG_PID" >>"$BATS_TEST_TMPDIR/bg.pids"
	echo "# background: ns-enter $(_shell_quote "$@")  (pid $BG_PID)"
}

# wait_child COMM [PARENT]: waits (up to 3s) until PARENT (default $BG_PID)
# has a child whose /proc/PID/comm is COMM, i.e. that has exec'd COMM and so
# finished its setup, and prints that child's PID.
wait_child() {
	local comm=$1 parent=${2:-$BG_PID} i c
	for ((i = 0; i < 60; i++)); do
		for c in $(_children "$parent"); do
			if [ "$(cat /proc/"$c"/comm 2>/dev/null)" = "$comm" ]; then
				echo "$c"
				return 0
			fi
		done
		sleep 0.05
	done
	echo "wait_child: no child of $parent runs $comm after 3s; it printed:" >&2
	cat "$BATS_TEST_TMPDIR/bg.out" >&2
	return 1
}

# _children PID: PID's child processes, as the kernel lists them.
_children() {
	cat /proc/"$1"/task/*/children 2>/dev/null || true
}

# wait_exit PID: waits up to 3s for our child PID to end, then sets
# WAIT_STATUS to its exit status; fails if it is still running.  Not in $(...):
# only this shell can wait for its children.
wait_exit() {
	local pid=$1 i
	for ((i = 0; i < 60; i++)); do
		[ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" = Z ] && break
		[ -e /proc/"$pid" ] || break
		sleep 0.05
	done
	if [ "$(awk '{print $3}' /proc/"$pid"/stat 2>/dev/null)" != Z ] && [ -e /proc/"$pid" ]; then
		echo "wait_exit: process $pid still running after 3s" >&2
		return 1
	fi
	WAIT_STATUS=0
	wait "$pid" || WAIT_STATUS=$?
}

# ns_inode PID KIND: "uts:[4026531838]" -> 4026531838
ns_inode() {
	local link
	link=$(readlink "/proc/$1/ns/$2") || return 1
	link=${link#*[}
	echo "${link%]}"
}

# on_teardown CMD ARGS...: remember a clean-up command (rmdir of a cgroup,
# runc delete, ...); teardown runs them in order, ignoring their failures.
on_teardown() {
	_shell_quote "$@" >>"$BATS_TEST_TMPDIR/teardown.cmds"
}

# teardown kills, by PID, every background ns-enter this test started: first
# the container's processes (ns-enter's children; killing PID 1 of a pid
# namespace kills the whole namespace), then, if it has not ended by then,
# ns-enter itself.  Then it runs
# the on_teardown commands.
teardown() {
	local pid c cmd
	if [ -f "$BATS_TEST_TMPDIR/bg.pids" ]; then
		while read -r pid; do
			for c in $(_children "$pid"); do
				kill -KILL "$c" 2>/dev/null || true
			done
			# Once its container is gone, ns-enter removes the cgroup it
			# made (cg-limit rm); SIGKILL only if it does not end by itself.
			wait_exit "$pid" 2>/dev/null || true
			kill -KILL "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		done <"$BATS_TEST_TMPDIR/bg.pids"
		rm -f "$BATS_TEST_TMPDIR/bg.pids"
	fi
	if [ -f "$BATS_TEST_TMPDIR/teardown.cmds" ]; then
		while read -r cmd; do
			eval "$cmd" >/dev/null 2>&1 || true
		done <"$BATS_TEST_TMPDIR/teardown.cmds"
		rm -f "$BATS_TEST_TMPDIR/teardown.cmds"
	fi
}
