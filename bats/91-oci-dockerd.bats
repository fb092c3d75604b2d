#!/usr/bin/env bats
# dockerd drives the OCI runtime under test (CTRKIT_OCI_RUNTIME, by default
# ctrkit's bin/ctrkit-runc; CTRKIT_OCI_RUNTIME=runc for the reference):
# `dockerd --add-runtime ctrkit=RUNTIME`, then `docker run --runtime ctrkit`.
# dockerd (Debian's docker.io, 20.10) is started by this file in its own
# network namespace, in a private mount namespace with its own /run and
# /etc/docker (bats/oci.bash says why), with its own data-root, exec-root,
# pidfile and socket; it starts its own containerd under its exec-root.
# `--iptables=false --bridge=none --ip-forward=false`: no rule, bridge or
# sysctl of the host is touched (with iptables on, dockerd sets the FORWARD
# policy to DROP), and containers get `--network none`.  Containers'
# cgroups go under /ck-t…-d (--cgroup-parent), where the leak check looks.
# Stopped by PID in teardown_file.

load helpers
load oci

setup_file() {
	load helpers
	load oci
	requires root overlay busybox
	command -v dockerd >/dev/null || skip "needs dockerd (apt-get install docker.io)"
	command -v skopeo >/dev/null || skip "needs skopeo (apt-get install skopeo)"
	oci_runtime

	D=$BATS_FILE_TMPDIR/dockerd
	NETNS=ck-t$(printf '%06x' $(((RANDOM << 8 | RANDOM) & 0xffffff)))-d
	CGPARENT=/$NETNS
	# Debian's docker CLI, matching the daemon (another `docker` may come
	# first on PATH).
	DOCKER=$(dirname "$(command -v dockerd)")/../bin/docker
	[ -x "$DOCKER" ] || DOCKER=$(command -v docker)
	export D NETNS CGPARENT DOCKER
	mkdir -p "$D/data" "$D/exec" "$BATS_FILE_TMPDIR/bin"
	host_state >"$BATS_FILE_TMPDIR/host-before"

	# docker 20.10 loads docker-archive tars only: convert ctrkit's OCI
	# layout with skopeo.
	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root
	"$REPO/scripts/mk-image.sh" busybox:latest
	skopeo copy --quiet "oci:$CTRKIT_ROOT/oci:docker.io/library/busybox:latest" \
		"docker-archive:$BATS_FILE_TMPDIR/busybox-docker.tar:busybox:latest"

	ip netns add "$NETNS"
	ip -n "$NETNS" link set lo up
	local t0=$EPOCHREALTIME
	# /etc/docker gets a tmpfs too: dockerd 20.10 writes its key.json there.
	start_private_daemon "$D" sh -c 'mount -t tmpfs ck-oci-etc /etc/docker && exec "$@"' sh \
		dockerd --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
		-H "unix://$D/docker.sock" --iptables=false --ip-masq=false --ip-forward=false \
		--bridge=none --cgroup-parent "$CGPARENT" --add-runtime "ctrkit=$RUNTIME"
	wait_socket "$D/docker.sock" 60 || {
		cat "$D/daemon.log" >&2
		false
	}
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v v="$(dockerd --version | awk '{print $3}' | tr -d ,)" \
		'BEGIN { printf "# dockerd %s up in %.2fs\n", v, b - a }' >&3

	printf '#!/bin/sh\nexec %s -H unix://%s "$@"\n' "$DOCKER" "$D/docker.sock" >"$BATS_FILE_TMPDIR/bin/dkr"
	chmod +x "$BATS_FILE_TMPDIR/bin/dkr"
	"$BATS_FILE_TMPDIR/bin/dkr" load -q -i "$BATS_FILE_TMPDIR/busybox-docker.tar" >&2
}

teardown_file() {
	[ -n "${D:-}" ] || return 0
	# Shims outlive dockerd's containerd by design; ours exit once their
	# task is gone: any still here serve this file's containerd.
	local pid
	for pid in $(shims); do kill -KILL "$pid" 2>/dev/null || true; done
	stop_daemon "$D"
	ip netns del "$NETNS" 2>/dev/null || true
	rmdir /sys/fs/cgroup/*/"$NETNS" /sys/fs/cgroup/"$NETNS" 2>/dev/null || true
}

setup() {
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
}

teardown() {
	local id
	for id in $(dkr ps -aq 2>/dev/null); do dkr rm -f "$id" >/dev/null 2>&1 || true; done
}

# host_state: what dockerd could change on the host: the FORWARD policy,
# forwarding and bridge sysctls, /etc/docker, docker's default dirs.
host_state() {
	iptables -S FORWARD 2>/dev/null | head -n 1 || true
	sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding 2>/dev/null || true
	ls -la --time-style=+ /etc/docker 2>/dev/null || true
	ls -d /var/lib/docker /var/lib/containerd /run/docker /run/containerd /run/docker.sock 2>/dev/null || true
}

# shims: PIDs of containerd-shim-runc-v2 processes of this dockerd's
# containerd (their -address is under its exec-root).
shims() {
	local dir
	for dir in /proc/[0-9]*; do
		case $({ tr '\0' ' ' <"$dir/cmdline"; } 2>/dev/null) in
		*containerd-shim*" -address $D/exec/"*) echo "${dir#/proc/}" ;;
		esac
	done
}

@test "docker run --runtime ctrkit --network none busybox sh -c 'exit 3' [exit status, --rm]" {
	run_tool dkr info --format '{{json .Runtimes}}'
	assert_output --partial "\"ctrkit\":{\"path\":\"$RUNTIME\"}"
	run_tool --status 3 dkr run --rm --runtime ctrkit --network none busybox sh -c 'echo "pid $$ in $(hostname)"; exit 3'
	assert_output --regexp '^pid 1 in [0-9a-f]{12}$'
	run_tool --status 127 dkr run --rm --runtime ctrkit --network none busybox no-such-program
	assert_equal "$(dkr ps -aq)" ""
}

@test "docker run -it --runtime ctrkit [a terminal through the console socket]" {
	command -v script >/dev/null || skip "needs script (util-linux)"
	run_tool --status 5 script -qec "dkr run -it --rm --runtime ctrkit --network none busybox sh -c 'tty; exit 5'" /dev/null
	assert_output --partial /dev/pts/0
}

@test "docker run -d --runtime ctrkit; exec; stop; rm [through the runtime]" {
	run_tool dkr run -d --name "$(safename)" --runtime ctrkit --network none busybox sleep 1000
	local id=$output
	run_tool dkr inspect -f '{{.HostConfig.Runtime}} {{.State.Status}}' "$id"
	assert_output "ctrkit running"
	run_tool --status 4 dkr exec "$id" sh -c 'echo "init is $(cat /proc/1/comm)"; exit 4'
	assert_output "init is sleep"
	# sleep as PID 1 ignores SIGTERM: stop sends SIGKILL after -t seconds.
	run_tool dkr stop -t 1 "$id"
	run_tool dkr inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id"
	assert_output "exited 137"
	run_tool dkr rm "$id"
	assert_equal "$(dkr ps -aq)" ""
}

@test "nothing left: no container, no mount, no cgroup, no shim; the host as it was" {
	assert_equal "$(dkr ps -aq)" ""
	run_tool nsenter --mount="/proc/$DAEMON_PID/ns/mnt" findmnt -rn -o TARGET
	refute_output --partial "$D/exec/containerd/"
	refute_output --partial "/overlay2/"
	run_tool find /sys/fs/cgroup -mindepth 2 -maxdepth 3 -type d -path "*/$NETNS/*"
	assert_output ""
	# The runtime removes each container's cgroup; their parent stays
	# (runc does the same): it must be empty, so rmdir works.
	local cg
	for cg in /sys/fs/cgroup/*/"$NETNS" /sys/fs/cgroup/"$NETNS"; do
		[ ! -d "$cg" ] || run_tool rmdir "$cg"
	done
	local i
	for ((i = 0; i < 50; i++)); do
		[ -z "$(shims)" ] && break
		sleep 0.1
	done
	assert_equal "$(shims)" ""
	assert_equal "$(host_state)" "$(cat "$BATS_FILE_TMPDIR/host-before")"
	# No leak_check here: the network namespace is this file's fixture
	# until teardown_file; the suite's leak check runs after that.
}
