#!/usr/bin/env bash
# cgroup-vm.sh — run a command on a real cgroup v2 or cgroup v1 kernel, in a
# throw-away QEMU guest: Debian's kernel, a busybox initramfs, no disk.
#
# Usage:
#   scripts/cgroup-vm.sh --setup                 install qemu, cpio, busybox-static; fetch the kernel
#   scripts/cgroup-vm.sh [--mode v2|v1] [--add FILE]... [--timeout S] -- CMD ARGS...
#
#   --mode v2   cgroup2 at /sys/fs/cgroup, every controller enabled in the
#               root's cgroup.subtree_control (what systemd does on a v2 host)
#   --mode v1   one cgroup v1 hierarchy per controller under /sys/fs/cgroup
#               (cpu and cpuacct together, as systemd mounts them), and no
#               cgroup2 at all: the layout of older distributions.  (The
#               hybrid layout, v1 plus an empty cgroup2 tree, is what the
#               build machines run, so the host's own tests cover it.)
#   --add FILE  copy FILE (or a directory) into the guest's /job, the
#               payload's directory; a dynamically linked program brings
#               the libraries ldd lists, at the same paths
#
# Why a VM: a host has one cgroup layout, chosen at boot, and a test must
# never change it.  The guest boots in 2-4 s with software emulation (no
# KVM needed); its only processes are busybox's and the payload's.
#
# The guest is a small but real host: its root is a tmpfs (the init copies
# the initramfs into one and switch_roots there, as a distribution's
# initramfs does with the real root), because pivot_root(2), which every
# container runtime calls, refuses to move the initramfs itself ("rootfs"
# has no parent mount).  And the kernel loads the modules a container
# needs on demand (/sbin/modprobe is busybox's): overlay, veth, bridge and
# nftables with NAT, kept from the kernel's .deb, and zram (swap in RAM),
# loop and bfq (the I/O scheduler that reads the blkio weights) for the
# swap and weight demos (scripts/vm-swap-io.sh); nothing else, so not
# xfrm_user (IPsec), which a container runtime has no business needing.
#
# Exit status: the payload's; 124 when it timed out inside the guest; 125
# when the VM itself failed (the console is printed then).
# Environment: CTRKIT_VM_CACHE (default ~/.cache/ctrkit-vm), where the
# kernel and the base initramfs are kept.
set -euo pipefail

cache=${CTRKIT_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ctrkit-vm}
mode=v2 timeout=300 setup=0
adds=()

die() {
	echo "cgroup-vm: $*" >&2
	exit 125
}

while [ "$#" -gt 0 ]; do
	case $1 in
	--setup) setup=1; shift ;;
	--mode) mode=$2; shift 2 ;;
	--add) adds+=("$2"); shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
case $mode in v1 | v2) ;; *) die "--mode must be v1 or v2, not $mode" ;; esac

# --- host packages ---------------------------------------------------------
install_packages() {
	local missing=() p
	for p in qemu-system-x86 cpio busybox-static xz-utils; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages ${missing[*]}: run sudo $0 --setup"
	echo "cgroup-vm: installing ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
		{ apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; } ||
		die "apt-get install ${missing[*]} failed"
}

# --- the kernel: Debian's, from its .deb ------------------------------------
# The modules kept from the .deb (with what they depend on); the guest's
# kernel loads them when asked.
modules="overlay veth bridge nf_tables nft_nat nft_masq nft_chain_nat nft_fib_ipv4 nft_ct crc32c_generic zram loop bfq"

fetch_kernel() {
	# A cache made with another list of modules is made again.
	[ -s "$cache/vmlinuz" ] && [ "$(cat "$cache/modules/.list" 2>/dev/null)" = "$modules" ] && return 0
	mkdir -p "$cache"
	local pkg dl
	# linux-image-amd64 is a meta package; the kernel is what it depends on.
	pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	if [ -z "$pkg" ]; then
		apt-get update -q >&2 || true
		pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	fi
	[ -n "$pkg" ] || die "apt-cache cannot resolve linux-image-amd64"
	dl=$(mktemp -d "$cache/dl.XXXXXX")
	echo "cgroup-vm: downloading $pkg" >&2
	(cd "$dl" && apt-get download -q "$pkg" >&2) || die "apt-get download $pkg failed"
	dpkg-deb -x "$dl"/*.deb "$dl/x"
	cp "$dl"/x/boot/vmlinuz-* "$cache/vmlinuz.new"
	# The bzImage decompresses itself with xz, slowly under emulation.  Its
	# payload is a plain ELF kernel that QEMU can boot directly (the PVH
	# entry point): find the xz stream, unpack it, keep it if it is an ELF.
	local off
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$cache/vmlinuz.new" | head -n 1 | cut -d: -f1 || true)
	if [ -n "$off" ]; then
		tail -c +"$((off + 1))" "$cache/vmlinuz.new" | xz -dc >"$cache/vmlinux" 2>/dev/null || true
		[ "$(head -c 4 "$cache/vmlinux" | tr -d '\0' | tail -c 3)" = ELF ] || rm -f "$cache/vmlinux"
	fi
	keep_modules "$dl/x"
	mv "$cache/vmlinuz.new" "$cache/vmlinuz"
	rm -rf "$dl"
}

# keep_modules X: copy $modules and their dependencies from the unpacked
# .deb X into $cache/modules (a tree for the guest's /lib/modules), with
# the index busybox's modprobe reads.
keep_modules() {
	local x=$1 kv m f dep mt
	kv=$(ls "$x/lib/modules")
	busybox depmod -b "$x" "$kv"
	rm -rf "$cache/modules"
	mt=$cache/modules/lib/modules/$kv
	mkdir -p "$mt"
	for m in $modules; do
		dep=$(grep -E "/$m\.ko[^:]*:" "$x/lib/modules/$kv/modules.dep" | head -n 1 | tr -d :)
		[ -n "$dep" ] || die "no module $m in the kernel package"
		for f in $dep; do
			mkdir -p "$mt/$(dirname "$f")"
			cp "$x/lib/modules/$kv/$f" "$mt/$f"
		done
	done
	cp "$x/lib/modules/$kv"/modules.builtin* "$x/lib/modules/$kv/modules.order" "$mt/"
	busybox depmod -b "$cache/modules" "$kv"
	echo "$kv" >"$cache/modules/.done"
	echo "$modules" >"$cache/modules/.list"
}

install_packages
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # one download at a time
fetch_kernel
flock -u 9
if [ "$setup" = 1 ]; then
	echo "cgroup-vm: ready: $(ls "$cache")" >&2
	exit 0
fi
[ "$#" -gt 0 ] || die "no command: $0 --mode v2 -- CMD ARGS..."

# --- the guest's init --------------------------------------------------------
work=$(mktemp -d /tmp/ck-vm.XXXXXX)
qemu_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	[ -z "$qemu_pid" ] || kill "$qemu_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,job,lib}
cp /bin/busybox "$root/bin/busybox"
ln -s /bin/busybox "$root/sbin/modprobe" # the path of the kernel's request_module()
cp -a "$cache/modules/lib/modules" "$root/lib/"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\n' >"$root/etc/group"

cat >"$root/init" <<'INIT'
#!/bin/busybox sh
# PID 1 of the guest: mount what a system has, lay out cgroups, run the
# payload with its output on the second serial port, report its status on
# the third, power off.
if [ ! -e /.tmpfs-root ]; then
	# First pass, on the initramfs: copy it into a tmpfs and make that the
	# root (pivot_root cannot move the initramfs), then run again there.
	b=/bin/busybox
	$b mkdir /newroot
	$b mount -t tmpfs -o mode=755 tmpfs /newroot
	for f in /*; do [ "$f" = /newroot ] || $b cp -a "$f" /newroot/; done
	$b touch /newroot/.tmpfs-root
	exec $b switch_root /newroot /init
fi
/bin/busybox --install -s /bin
export PATH=/job:/bin:/sbin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
ip link set lo up
echo -1000 >/proc/self/oom_score_adj # the OOM tests must not take init
. /job/.vm-conf
export MODE TIMEOUT
finish() { echo "$1" >/dev/ttyS2; sync; poweroff -f; }
for t in 1 2; do stty -F /dev/ttyS$t raw -echo 2>/dev/null; done
cg=/sys/fs/cgroup
case $MODE in
v2)
	mount -t cgroup2 -o nsdelegate cgroup2 $cg || finish 125
	for c in $(cat $cg/cgroup.controllers); do echo "+$c" >$cg/cgroup.subtree_control; done
	;;
v1)
	mount -t tmpfs -o mode=755 tmpfs $cg
	for c in cpuset cpu,cpuacct blkio memory devices freezer net_cls,net_prio pids; do
		mkdir $cg/$c && mount -t cgroup -o $c cgroup $cg/$c
	done
	ln -s cpu,cpuacct $cg/cpu
	ln -s cpu,cpuacct $cg/cpuacct
	ln -s net_cls,net_prio $cg/net_prio
	;;
esac
cd /job
(
	setsid sh -c 'echo 0 >/proc/self/oom_score_adj; exec timeout -s KILL "$TIMEOUT" sh /job/.vm-cmd' </dev/null
	echo $? >/tmp/rc
) >/dev/ttyS1 2>&1
finish "$(cat /tmp/rc)"
INIT
chmod 755 "$root/init"

for f in "${adds[@]}"; do
	cp -a "$f" "$root/job/"
	# A dynamically linked program brings its libraries.
	if [ -f "$f" ] && ldd "$f" >/dev/null 2>&1; then
		for lib in $(ldd "$f" | grep -o '/[^ ]*'); do
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
	fi
done
printf 'MODE=%s\nTIMEOUT=%s\n' "$mode" "$timeout" >"$root/job/.vm-conf"
{
	printf 'exec'
	printf ' %q' "$@"
	echo
} >"$root/job/.vm-cmd"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) >"$work/initrd"

kernel=$cache/vmlinux
[ -s "$kernel" ] || kernel=$cache/vmlinuz
: >"$work/out"
: >"$work/rc"
# One host thread runs both vCPUs (thread=single): with a thread each
# (MTTCG) guests here sometimes locked up in their own kernel, both CPUs
# spinning; one thread costs a few seconds and has not hung since.
timeout -k 5 "$((timeout + 120))" qemu-system-x86_64 \
	-M pc -m 1024 -smp 2 -nodefaults -no-reboot -display none -vga none -monitor none \
	-accel tcg,thread=single -cpu qemu64 \
	-kernel "$kernel" -initrd "$work/initrd" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3 tsc=reliable" \
	-serial "file:$work/console" -serial "file:$work/out" -serial "file:$work/rc" \
	</dev/null 2>"$work/qemu.err" &
qemu_pid=$!
wait "$qemu_pid" || true
qemu_pid=
tr -d '\r' <"$work/out"
rc=$(tr -dc '0-9\n' <"$work/rc" | grep -m 1 . || true)
if [ -z "$rc" ]; then
	echo "cgroup-vm: the guest reported no exit status" >&2
	cat "$work/qemu.err" >&2
	tail -n 30 "$work/console" >&2
	exit 125
fi
exit "$rc"
