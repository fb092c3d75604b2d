#!/usr/bin/env bash
# demo.sh — a narrated tour of ns-enter (make demo).  Offline, needs root.
set -euo pipefail

cd "$(dirname "$0")/.."
PATH=$PWD/bin:$PATH

if [ "$(id -u)" -ne 0 ]; then
	echo "demo: namespaces need root (CAP_SYS_ADMIN): sudo $0" >&2
	exit 1
fi
command -v ns-enter >/dev/null || { echo "demo: bin/ns-enter missing: run 'make build'" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ck-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
say() { printf '\n%s# %s%s\n' "$bold" "$*" "$plain"; }
show() { # print the command as you would type it, then run it
	local arg line='$'
	for arg; do
		if [[ $arg =~ ^[A-Za-z0-9_./:=,+@%-]+$ ]]; then line+=" $arg"; else line+=" '$arg'"; fi
	done
	echo "$line"
	"$@"
}

say "A new PID namespace with its own /proc: ps sees itself as PID 1."
show ns-enter --pid --mount-proc -- ps

say "A new UTS namespace: the hostname changes inside, not outside ($(hostname))."
show ns-enter --uts --hostname demo -- hostname

say "A new network namespace holds only a loopback device, and it is down."
show ns-enter --net -- ip -o link

say "All namespaces and a busybox root filesystem: a container."
scripts/mk-rootfs.sh "$tmp/rootfs"
show ns-enter --all --hostname box --rootfs "$tmp/rootfs" -- sh -c 'hostname; ps; ls /'

say "Add --explain to any command to see each kernel call and its shell equivalent."
