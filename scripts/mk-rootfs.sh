#!/usr/bin/env bash
# mk-rootfs.sh — build a minimal busybox root filesystem, offline.
#
# Usage: scripts/mk-rootfs.sh DIR
#
# DIR gets Debian's statically linked /bin/busybox (package busybox-static),
# one symlink per applet, /etc/passwd, /etc/group, /etc/hostname and the
# empty mount points a container runtime expects (proc, sys, dev, tmp).
# Running it again on the same DIR is harmless.
set -euo pipefail

usage() { echo "usage: $0 DIR" >&2; exit 2; }
[ "$#" -eq 1 ] || usage
dir=$1
busybox=${BUSYBOX:-/bin/busybox}

if ! [ -x "$busybox" ]; then
	echo "mk-rootfs: $busybox not found: install it with 'apt-get install busybox-static'" >&2
	exit 1
fi
# A dynamically linked busybox (Debian's plain 'busybox' package) would not
# run inside the rootfs, which has no libc.
if ! dpkg -s busybox-static >/dev/null 2>&1 && [ -z "${BUSYBOX:-}" ]; then
	echo "mk-rootfs: package busybox-static is not installed: 'apt-get install busybox-static'" >&2
	exit 1
fi

mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,root,tmp,var/tmp}
chmod 1777 "$dir/tmp" "$dir/var/tmp"
chmod 0700 "$dir/root"

install -m 0755 "$busybox" "$dir/bin/busybox"

# `busybox --list-full` prints each applet with its usual directory
# (bin/sh, sbin/ip, usr/bin/env, ...); link them all to /bin/busybox.
"$busybox" --list-full | while read -r applet; do
	# linuxrc is an initrd's /init; a container has no use for it.
	if [ "$applet" = bin/busybox ] || [ "$applet" = linuxrc ] || [ -L "$dir/$applet" ] || [ -e "$dir/$applet" ]; then
		continue
	fi
	mkdir -p "$dir/${applet%/*}"
	ln -s /bin/busybox "$dir/$applet"
done

[ -e "$dir/etc/passwd" ] || cat >"$dir/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
[ -e "$dir/etc/group" ] || cat >"$dir/etc/group" <<'GROUP'
root:x:0:
nogroup:x:65534:
GROUP
[ -e "$dir/etc/hostname" ] || echo ctrkit >"$dir/etc/hostname"
exit 0
