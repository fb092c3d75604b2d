# shellcheck shell=bash
# oci.bash — containerd and dockerd as test fixtures, driving an OCI runtime
# (runc's command line) chosen by CTRKIT_OCI_RUNTIME:  load oci
#
#   oci_runtime                 sets RUNTIME (absolute path) or skips
#   oci_image_tar FILE          busybox:latest from ctrkit's store as an OCI
#                               archive (the tar of an OCI image layout)
#   start_private_daemon DIR CMD...
#                               runs CMD in a private mount namespace with a
#                               fresh tmpfs on /run, writes DIR/daemon.pid
#   in_daemon_ns CMD...         runs CMD in that mount namespace
#   stop_daemon DIR             SIGTERM by PID, then SIGKILL after 15 s
#
# Why a private mount namespace with its own /run: containerd 1.6 puts some
# paths under /run/containerd whatever its config says (the shims' sockets
# in /run/containerd/s, ctr's FIFOs in /run/containerd/fifo), dockerd 20.10
# looks for plugins in /run/docker.  With a tmpfs on /run that only the
# daemon, its shims and the runtime see, nothing of that reaches the host,
# and every mount the daemon makes (snapshots, container root filesystems)
# is gone with the namespace.  Clients that share paths with the daemon
# (ctr's FIFOs) run in the namespace too: in_daemon_ns.

# oci_runtime: RUNTIME is the runtime under test, by default ctrkit's
# runc-compatible entry point bin/ctrkit-runc; CTRKIT_OCI_RUNTIME=runc (or
# a path) picks another.
oci_runtime() {
	local want=${CTRKIT_OCI_RUNTIME:-$BIN/ctrkit-runc}
	RUNTIME=$(command -v "$want") || skip "needs the OCI runtime '$want' (make build, or set CTRKIT_OCI_RUNTIME=runc)"
	export RUNTIME
}

# oci_image_tar FILE: busybox:latest, made offline by scripts/mk-image.sh in
# ctrkit's store (CTRKIT_ROOT), packed as an OCI archive that `ctr images
# import` and `docker load` (docker 20.10 reads OCI archives too... not all
# versions: see 91-oci-dockerd.bats, which converts it) take.
oci_image_tar() {
	local out=${1:?oci_image_tar FILE}
	"$REPO/scripts/mk-image.sh" busybox:latest || return 1
	tar -C "$CTRKIT_ROOT/oci" -cf "$out" oci-layout index.json blobs
}

# start_private_daemon DIR CMD...: CMD (a daemon that stays in the
# foreground) in a new mount namespace, private propagation, a tmpfs on
# /run; its output goes to DIR/daemon.log, its PID to DIR/daemon.pid.
# NETNS=name runs it in that network namespace too.
start_private_daemon() {
	local dir=$1
	shift
	local -a pre=()
	[ -z "${NETNS:-}" ] || pre=(nsenter "--net=/run/netns/$NETNS")
	# exec keeps the PID: unshare execs sh, sh execs the daemon.
	"${pre[@]}" unshare --mount --propagation private -- \
		sh -c 'mount -t tmpfs -o mode=0755 ck-oci-run /run && exec "$@"' sh "$@" \
		>"$dir/daemon.log" 2>&1 </dev/null 3>&- &
	echo $! >"$dir/daemon.pid"
	DAEMON_PID=$!
	export DAEMON_PID
}

# in_daemon_ns CMD...: CMD in the daemon's mount namespace.
in_daemon_ns() {
	nsenter --mount="/proc/$DAEMON_PID/ns/mnt" -- "$@"
}

# wait_socket SOCKET SECONDS: until SOCKET exists (or the daemon died).
wait_socket() {
	local sock=$1 secs=${2:-30} i
	for ((i = 0; i < secs * 10; i++)); do
		[ -S "$sock" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# stop_daemon DIR: the daemon started by start_private_daemon, by its PID.
stop_daemon() {
	local dir=$1 pid i
	pid=$(cat "$dir/daemon.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 150; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "stop_daemon: $pid did not stop on SIGTERM in 15 s: SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
}
