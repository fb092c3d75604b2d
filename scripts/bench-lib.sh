#!/usr/bin/env bash
# bench-lib.sh — what every scripts/bench-*.sh shares; each sources it.

# discard DIR: remove a benchmark's work directory. Under make bench
# (bench-all.sh sets BENCH_TRASH) it is moved there instead, and removed
# after the last benchmark: on ext4 without a journal every new inode skips
# the inodes deleted in the last minutes (recently_deleted() in
# fs/ext4/ialloc.c), so removing one benchmark's hundred thousand files
# slowed every file made by the benchmarks after it, whichever tool made
# it (docs/bench.md). A directory on another file system is removed now.
discard() {
	[ -e "$1" ] || return 0
	if [ -n "${BENCH_TRASH:-}" ] && [ "$(stat -c %d "$1")" = "$(stat -c %d "$BENCH_TRASH")" ]; then
		mv "$1" "$(mktemp -d "$BENCH_TRASH/XXXXXX")/"
	else
		rm -rf "$1"
	fi
}
