#!/usr/bin/env bash
# two-containers.sh — two containers on one bridge: a web server, and a
# client that fetches a page from the server's address.  Offline, a second or
# two, needs root.
#
# Usage: sudo scripts/examples/two-containers.sh
#
# net-bridge gives each container a veth pair with one end, eth0, in the
# container's network namespace and the other plugged into the bridge
# ctrkit0, and the next free address of the bridge's subnet.  The bridge
# forwards frames between its ports like a switch, so the two talk directly,
# with no NAT in between.
#
# Like demo.sh, it makes a network namespace to play the host (and a state
# directory for that namespace's bridge), so your real network is never
# touched, and deletes both at the end.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
PATH=$repo/bin:$repo/scripts:$PATH
if [ "$(id -u)" -ne 0 ]; then
	echo "two-containers: containers need root (namespaces, cgroups, mounts): sudo $0" >&2
	exit 1
fi
mk-image.sh busybox:latest

ns=ck-two-$$
CTRKIT_STATE=$(mktemp -d /run/ck-two.XXXXXX)
export CTRKIT_STATE
cleanup() {
	if [ -e "/run/netns/$ns" ]; then
		host ctr-run rm -f server >/dev/null 2>&1 || true
		ip netns del "$ns" || true
	fi
	rm -rf "$CTRKIT_STATE"
}
trap cleanup EXIT
# host CMD…: run CMD in the namespace that plays the host.
host() { nsenter --net="/run/netns/$ns" "$@"; }

ip netns add "$ns"
ip -n "$ns" link set lo up
host sysctl -qw net.ipv4.ip_forward=1

# The server answers with its own /etc/hostname: its container id.
echo "\$ ctr-run -d --name server busybox httpd -f -p 80 -h /etc"
host ctr-run -d --name server busybox httpd -f -p 80 -h /etc

# Its address, as the container itself sees it ("10.213.0.2/24" → 10.213.0.2).
addr=$(host ctr-run exec server ip -o -4 addr show eth0 | awk '{ split($4, a, "/"); print a[1] }')
echo "server's address: $addr"

# A second container, removed when it ends, asks the first over the bridge.
# (timeout, not wget -T: busybox 1.35's wget crashes on -T.)
echo "\$ ctr-run --rm busybox timeout 5 wget -qO- http://$addr/hostname"
for _ in 1 2 3 4 5 6 7 8 9 10; do # httpd listens a moment after it starts
	if host ctr-run --rm busybox timeout 5 wget -qO- "http://$addr/hostname"; then
		ok=1
		break
	fi
	sleep 0.2
done
[ -n "${ok:-}" ] || { echo "two-containers: no answer from $addr" >&2; exit 1; }

echo "\$ ctr-run rm -f server"
host ctr-run rm -f server
