#!/usr/bin/env bats
# containerd drives the OCI runtime under test (CTRKIT_OCI_RUNTIME, by
# default ctrkit's bin/ctrkit-runc; CTRKIT_OCI_RUNTIME=runc for the
# reference) through its runc shim (io.containerd.runc.v2), the way docker
# does: `ctr run --runc-binary RUNTIME`.  containerd (Debian's package) is
# started by this file with its own config, root, state and socket, in a
# private mount namespace with its own /run (bats/oci.bash says why), and
# stopped by PID in teardown_file.  Its containers live in a containerd
# namespace named ck-t…, so their cgroups (/<namespace>/<id>) are ck-t…
# too, where the suite's leak check looks.

load helpers
load oci

setup_file() {
	load helpers
	load oci
	requires root overlay busybox
	command -v containerd >/dev/null && command -v ctr >/dev/null ||
		skip "needs containerd and ctr (apt-get install containerd)"
	oci_runtime

	D=$BATS_FILE_TMPDIR/containerd
	CNS=ck-t$(printf '%06x' $(((RANDOM << 8 | RANDOM) & 0xffffff)))-c
	export D CNS
	mkdir -p "$D" "$BATS_FILE_TMPDIR/bin"
	# Only what ctr run needs: no CRI (it wants CNI and a network), no
	# snapshotters other than overlayfs, no /opt plugin dir.
	cat >"$D/config.toml" <<-EOF
		version = 2
		root = "$D/root"
		state = "$D/state"
		disabled_plugins = [
		  "io.containerd.grpc.v1.cri",
		  "io.containerd.internal.v1.opt",
		  "io.containerd.snapshotter.v1.aufs",
		  "io.containerd.snapshotter.v1.btrfs",
		  "io.containerd.snapshotter.v1.devmapper",
		  "io.containerd.snapshotter.v1.zfs",
		  "io.containerd.tracing.processor.v1.otlp",
		]
		[grpc]
		  address = "$D/containerd.sock"
		[ttrpc]
		  address = "$D/containerd.sock.ttrpc"
		[debug]
		  address = "$D/debug.sock"
	EOF

	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root
	oci_image_tar "$BATS_FILE_TMPDIR/busybox-oci.tar"

	local t0=$EPOCHREALTIME
	start_private_daemon "$D" containerd --config "$D/config.toml"
	wait_socket "$D/containerd.sock" 30 || {
		cat "$D/daemon.log" >&2
		false
	}
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v v="$(containerd --version | awk '{print $3}')" \
		'BEGIN { printf "# containerd %s up in %.2fs\n", v, b - a }' >&3

	# cctr: ctr on this containerd, in its namespace (ctr's FIFOs must be
	# where the shim can open them).
	printf '#!/bin/sh\nexec nsenter --mount=/proc/%s/ns/mnt -- ctr --address %s -n %s "$@"\n' \
		"$DAEMON_PID" "$D/containerd.sock" "$CNS" >"$BATS_FILE_TMPDIR/bin/cctr"
	chmod +x "$BATS_FILE_TMPDIR/bin/cctr"
	"$BATS_FILE_TMPDIR/bin/cctr" images import "$BATS_FILE_TMPDIR/busybox-oci.tar" >&2
}

teardown_file() {
	[ -n "${D:-}" ] || return 0
	# Shims outlive containerd by design; ours exit once their task is
	# deleted: any still here serve this file's namespace.
	local pid
	for pid in $(shims); do kill -KILL "$pid" 2>/dev/null || true; done
	stop_daemon "$D"
	# runc removes a container's cgroup, not its parent (the namespace).
	rmdir /sys/fs/cgroup/*/"$CNS" /sys/fs/cgroup/"$CNS" 2>/dev/null || true
}

setup() {
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
	IMAGE=docker.io/library/busybox:latest
}

teardown() {
	local id
	for id in $(cctr tasks ls -q 2>/dev/null); do cctr tasks kill -s KILL "$id" >/dev/null 2>&1 || true; done
	for id in $(cctr containers ls -q 2>/dev/null); do
		cctr tasks delete -f "$id" >/dev/null 2>&1 || true
		cctr containers delete "$id" >/dev/null 2>&1 || true
	done
}

# shims: PIDs of containerd-shim-runc-v2 processes serving this namespace.
shims() {
	local dir
	for dir in /proc/[0-9]*; do
		case $({ tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null) in
		*containerd-shim*" -namespace $CNS "*) echo "${dir#/proc/}" ;;
		esac
	done
}

# task_status ID: RUNNING, PAUSED, STOPPED... as `ctr tasks ls` says.
task_status() {
	cctr tasks ls | awk -v id="$1" '$1 == id { print $3 }'
}

@test "ctr run --rm --runc-binary RUNTIME busybox sh -c 'exit 3' [the exit status passes through]" {
	run_tool --status 3 cctr run --rm --runc-binary "$RUNTIME" "$IMAGE" "$(safename)" \
		sh -c 'echo "pid $$ in $(hostname)"; exit 3'
	assert_output --regexp '^pid 1 in '
	run_tool cctr run --rm --runc-binary "$RUNTIME" "$IMAGE" "$(safename)-2" true
	assert_equal "$(cctr containers ls -q)" ""
}

@test "ctr run -d; ctr task exec; pause; resume; kill; delete [through RUNTIME]" {
	local id
	id=$(safename)
	run_tool cctr run -d --runc-binary "$RUNTIME" "$IMAGE" "$id" sleep 1000
	assert_equal "$(task_status "$id")" RUNNING
	# The container's cgroup: containerd asks for /<namespace>/<id>.
	local freezer=/sys/fs/cgroup/freezer/$CNS/$id
	[ -f /sys/fs/cgroup/cgroup.controllers ] && freezer=/sys/fs/cgroup/$CNS/$id

	run_tool --status 4 cctr tasks exec --exec-id e1 "$id" sh -c 'echo "exec pid $$, init is $(cat /proc/1/comm)"; exit 4'
	assert_output --regexp '^exec pid [0-9]+, init is sleep$'

	run_tool cctr tasks pause "$id"
	assert_equal "$(task_status "$id")" PAUSED
	if [ -f "$freezer/freezer.state" ]; then
		assert_equal "$(cat "$freezer/freezer.state")" FROZEN
	else
		assert_equal "$(cat "$freezer/cgroup.freeze")" 1
	fi
	run_tool cctr tasks resume "$id"
	assert_equal "$(task_status "$id")" RUNNING
	run_tool cctr tasks exec --exec-id e2 "$id" true

	run_tool cctr tasks kill -s KILL "$id"
	local i
	for ((i = 0; i < 50; i++)); do
		[ "$(task_status "$id")" = STOPPED ] && break
		sleep 0.1
	done
	assert_equal "$(task_status "$id")" STOPPED
	run_tool cctr tasks delete "$id"
	run_tool cctr containers delete "$id"
	assert_equal "$(cctr tasks ls -q)" ""
	refute [ -d "$freezer" ]
}

@test "ctr run -t --rm [a terminal through the console socket]" {
	command -v script >/dev/null || skip "needs script (util-linux)"
	# script(1) gives ctr a terminal; ctr asks for one (process.terminal),
	# the runtime sends the pty's master to the shim over --console-socket.
	run_tool --status 5 script -qec "cctr run -t --rm --runc-binary $RUNTIME $IMAGE $(safename) sh -c 'tty; stty size; exit 5'" /dev/null
	assert_output --partial /dev/pts/0
}

@test "nothing left: no task, no snapshot mount, no cgroup, no shim" {
	assert_equal "$(cctr tasks ls -q)" ""
	assert_equal "$(cctr containers ls -q)" ""
	# Mounts live in containerd's namespace: look there.
	run_tool nsenter --mount="/proc/$DAEMON_PID/ns/mnt" findmnt -rn -o TARGET
	refute_output --partial "$D/"
	run_tool find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path "*/$CNS/*"
	assert_output ""
	# The runtime removes each container's cgroup; their parent stays
	# (runc does the same): it must be empty, so rmdir works.
	local cg
	for cg in /sys/fs/cgroup/*/"$CNS" /sys/fs/cgroup/"$CNS"; do
		[ ! -d "$cg" ] || run_tool rmdir "$cg"
	done
	# give the last shim a moment to exit after its task was deleted
	local i
	for ((i = 0; i < 50; i++)); do
		[ -z "$(shims)" ] && break
		sleep 0.1
	done
	assert_equal "$(shims)" ""
	leak_check
}
