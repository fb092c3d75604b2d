#!/usr/bin/env bash
# demo.sh — the narrated tour (make demo): a web server container with a
# memory and CPU limit and a published port, its namespaces, cgroup and
# layers, then gone.  Offline, a few seconds, needs root.
#
# Usage: sudo scripts/demo.sh          (after make build)
#
# Nothing touches your real network: the demo makes a network namespace
# (ck-demo-PID) to play the host, runs every container command inside it with
# `nsenter --net`, and deletes it at the end.  Its runtime state (CTRKIT_STATE)
# is a directory of its own too, since the bridge and the addresses it hands
# out live and die with that namespace.  The image goes into the image store
# (CTRKIT_ROOT, default /var/lib/ctrkit), where it stays for the next run.
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD
PATH=$repo/bin:$repo/scripts:$PATH

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: containers need root (namespaces, cgroups, mounts): sudo $0" >&2
	exit 1
fi
for cmd in ctr-run ns-enter cg-limit fs-layer net-bridge img-pull; do
	command -v "$cmd" >/dev/null || { echo "demo: bin/$cmd missing: run 'make build'" >&2; exit 1; }
done

ns=ck-demo-$$
state=$(mktemp -d /run/ck-demo.XXXXXX)
www=$(mktemp -d "${TMPDIR:-/tmp}/ck-www.XXXXXX")
export CTRKIT_STATE=$state
cleanup() {
	local rc=$?
	if [ -e "/run/netns/$ns" ]; then
		nsenter --net="/run/netns/$ns" ctr-run rm -f web >/dev/null 2>&1 || true
		ip netns del "$ns" 2>/dev/null || true
	fi
	rm -rf "$state" "$www"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
# show CMD…: print the command as you would type it, then run it in the
# demo's host namespace.
show() {
	local arg line='$'
	for arg; do
		if [[ $arg =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then line+=" $arg"; else line+=" '$arg'"; fi
	done
	echo "$line"
	nsenter --net="/run/netns/$ns" "$@"
}

say "The default image, made offline from Debian's busybox-static (once)."
echo "\$ scripts/mk-image.sh busybox:latest"
mk-image.sh busybox:latest

say "A network namespace plays the host, so your real network is never touched."
echo "\$ ip netns add $ns"
ip netns add "$ns"
ip -n "$ns" link set lo up
# A host that runs containers forwards packets (docker turns this on too).
nsenter --net="/run/netns/$ns" sysctl -qw net.ipv4.ip_forward=1

say "A page for the web server, in a directory on the host:"
echo "\$ echo '<h1>hello from a ctrkit container</h1>' > $www/index.html"
echo '<h1>hello from a ctrkit container</h1>' >"$www/index.html"
chmod 755 "$www"

say "Run busybox httpd: 64 MiB of memory, half a CPU, port 8080 -> 80, the page mounted read-only."
show ctr-run -d --name web -m 64m --cpus 0.5 -p 8080:80 -v "$www:/www:ro" busybox httpd -f -p 80 -h /www
id=$(nsenter --net="/run/netns/$ns" ctr-run inspect web | jq -r .meta.id)
pid=$(nsenter --net="/run/netns/$ns" ctr-run inspect web | jq -r .pid)
# httpd listens a moment after it starts.
for _ in $(seq 50); do
	nsenter --net="/run/netns/$ns" busybox wget -qO- http://127.0.0.1:8080/ >/dev/null 2>&1 && break
	sleep 0.1
done

say "It answers on the host's port 8080 (an nftables DNAT rule leads to the container's 80)."
show busybox wget -qO- http://127.0.0.1:8080/

say "ctr-run ps lists it, like docker ps."
show ctr-run ps

say "Inside, httpd is PID 1, and the host name is the container id."
show ctr-run exec web sh -c 'hostname; ps -o pid,comm'

say "Its namespaces: every kind marked 'no' is the container's own, not the host's."
show ns-enter show "$pid"

say "Its cgroup: the kernel counts its CPU and memory against the limits."
show cg-limit stats "$id"

say "Its files: the image's layers, read-only, under the container's own upper layer."
show fs-layer tree busybox
show ctr-run exec web sh -c 'echo scribble > /tmp/note'
show fs-layer which "$id" /bin/busybox
show fs-layer which "$id" /tmp/note

say "Remove it: the process, mount, cgroup, veth, address and port rule all go."
show ctr-run rm -f web
show ctr-run ps -a

say "Delete the host namespace: nothing is left."
echo "\$ ip netns del $ns"
ip netns del "$ns"
left=$( { ip netns list | grep -E "^(ck-$id|$ns)( |\$)"; findmnt -rn -o TARGET | grep -F "$id"; ls -d /sys/fs/cgroup/*/ctrkit/"$id" /sys/fs/cgroup/ctrkit/"$id"; } 2>/dev/null || true)
if [ -n "$left" ]; then
	echo "demo: left behind:" >&2
	printf '%s\n' "$left" >&2
	exit 1
fi
echo "(no namespace, mount or cgroup of $id remains)"

say "Next: add --explain to any command to see each kernel call, or --dry-run to ctr-run to see its pipeline."
