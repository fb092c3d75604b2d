#!/bin/sh
# vm-swap-io.sh — the limits a laptop-sized host cannot show, inside the
# cgroup VM (make test-cgroups), once on cgroup v2 and once on cgroup v1:
#
#   swap     --memory-swap, with a swap device (zram: swap in compressed
#            RAM, from the kernel's .deb): 32 MiB of memory and 64 MiB of
#            memory+swap hold 48 MiB, part of it in swap, and no more than
#            64; with --memory-swap equal to --memory nothing goes to swap.
#   weights  --blkio-weight, with the BFQ scheduler on a loop device: two
#            readers with weights 1000 and 100 share it; the measured
#            ratio is printed, and only its direction is checked (the
#            emulated CPU, not the disk, is what both wait for most).
#
# Busybox sh only. Prints TAP; exits 1 if a check failed. What it measured
# is in the "#" lines (docs/02-cgroups.md quotes them).
set -u
PATH=/job:$PATH
# shellcheck source=scripts/vm-tap.sh
. /job/vm-tap.sh
mode=$(cg-limit info --format json | sed -n 's/.*"mode": "\(.*\)".*/\1/p')
cg=/sys/fs/cgroup
mib() { echo $(($1 / 1048576)); }
started=$(cut -d" " -f1 /proc/uptime)
lap() { echo "# $(awk -v s="$started" '{ printf "%.1f", $1 - s }' /proc/uptime) s: $1"; }

# --- swap -------------------------------------------------------------------
modprobe zram && echo 128M >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0
check "zram0 is swap: $(awk 'NR > 1 { print $1, $3, "KiB" }' /proc/swaps)" grep -q zram0 /proc/swaps

# swapped NAME: bytes of NAME's memory in swap now.
swapped() {
	if [ "$mode" = v2 ]; then
		cat "$cg/ctrkit/$1/memory.swap.current"
	else
		echo $(($(cat "$cg/memory/ctrkit/$1/memory.memsw.usage_in_bytes") - $(cat "$cg/memory/ctrkit/$1/memory.usage_in_bytes")))
	fi
}
# hold NAME SIZE: dd fills a SIZE buffer in cgroup NAME, then holds it
# while it writes it into a pipe; the reader's first byte says the buffer
# is full, and it reads how much of it is in swap then (into /tmp/swapped).
# The status is dd's.
hold() {
	echo 0 >/tmp/swapped
	{
		sh -c "cg-limit add $1 \$\$ && exec dd if=/dev/zero bs=$2 count=1 2>/dev/null"
		echo $? >/tmp/rc
	} 2>/dev/null | { # (not the shell's "Killed")
		head -c 1 >/dev/null && swapped "$1" >/tmp/swapped
		cat >/dev/null
	}
	return "$(cat /tmp/rc)"
}

cg-limit create ck-swap --memory 32m --memory-swap 64m >/dev/null
hold ck-swap 48M
rc=$? s=$(cat /tmp/swapped)
echo "# --memory 32m --memory-swap 64m: dd holds 48 MiB, exit $rc, $(mib "$s") MiB of it in swap"
check "--memory 32m --memory-swap 64m: a 48 MiB buffer fits (exit $rc)" [ "$rc" = 0 ]
check "--memory 32m --memory-swap 64m: 12 MiB or more in swap ($s bytes)" [ "$s" -ge $((12 << 20)) ]
hold ck-swap 72M
rc=$?
check "--memory 32m --memory-swap 64m: a 72 MiB buffer is OOM-killed (exit $rc)" [ "$rc" = 137 ]
cg-limit rm ck-swap

cg-limit create ck-noswap --memory 32m --memory-swap 32m >/dev/null
hold ck-noswap 48M
rc=$?
check "--memory-swap 32m equal to --memory: a 48 MiB buffer is OOM-killed (exit $rc)" [ "$rc" = 137 ]
cg-limit rm ck-noswap
swapoff /dev/zram0 && echo 1 >/sys/block/zram0/reset # unmade, for the next user
lap "swap"

# --- I/O weights ------------------------------------------------------------
# A loop device over a file in RAM, with the bfq scheduler, so that the
# only thing the two readers compete for is BFQ's turns.
modprobe bfq && modprobe loop
truncate -s 256M /tmp/disk.img
dev=$(losetup -f) && losetup "$dev" /tmp/disk.img
disk=${dev#/dev/}
echo bfq >"/sys/block/$disk/queue/scheduler"
# BFQ's low_latency mode raises the weight of queues that look interactive
# for a while, whatever their cgroup's weight: off, so the weights alone
# divide the disk.
echo 0 >"/sys/block/$disk/queue/iosched/low_latency"
check "$disk's scheduler is bfq: $(cat "/sys/block/$disk/queue/scheduler")" grep -q '\[bfq\]' "/sys/block/$disk/queue/scheduler"
cg-limit create ck-heavy --blkio-weight 1000 >/dev/null
cg-limit create ck-light --blkio-weight 100 >/dev/null
# rbytes NAME: bytes NAME has read from the loop device.
rbytes() { cg-limit stats "$1" --format json | grep -A 1 "\"device\": \"$(cat "/sys/block/$disk/dev")\"" | json_num rbytes; }
reader() { # reader NAME SKIP: read 64 MiB from SKIP MiB on, direct, over and over
	sh -c "cg-limit add $1 \$\$ && while :; do dd if=$dev of=/dev/null bs=64k count=1024 skip=$(($2 * 16)) iflag=direct 2>/dev/null; done" &
}
reader ck-heavy 0
reader ck-light 128
sleep 0.5
h0=$(rbytes ck-heavy) l0=$(rbytes ck-light)
sleep 2
h1=$(rbytes ck-heavy) l1=$(rbytes ck-light)
cg-limit kill ck-heavy
cg-limit kill ck-light
wait
dh=$(((${h1:-0} - ${h0:-0}) >> 20)) dl=$(((${l1:-0} - ${l0:-0}) >> 20))
ratio=$(awk -v h="$dh" -v l="$dl" 'BEGIN { printf "%.1f", h / (l > 0 ? l : 1) }')
echo "# --blkio-weight 1000 vs 100 on bfq ($disk, 2 s): $dh MiB vs $dl MiB read, $ratio to 1"
check "--blkio-weight 1000 reads more than 100 ($dh vs $dl MiB; 1.25 to 1 or more)" [ "$((dh * 4))" -ge "$((dl * 5))" -a "$dh" -gt 0 ]
cg-limit rm ck-heavy ck-light
losetup -d "$dev"
rm -f /tmp/disk.img
lap "weights"

echo "1..$n"
[ "$failed" = 0 ]
