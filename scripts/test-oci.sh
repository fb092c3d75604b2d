#!/usr/bin/env bash
# test-oci.sh — the OCI runtime-tools validation suite against one runtime
# (make test-oci).
#
# Usage: sudo scripts/test-oci.sh [PROGRAM...]
#
#   CTRKIT_OCI_RUNTIME   the runtime to test (default: bin/ctrkit-runc, the
#                        runc-compatible name of ns-enter); e.g. $(command -v runc)
#   CTRKIT_OCI_MIN_PASS  fail unless at least this many programs pass (45)
#   CTRKIT_OCI_TIMEOUT   seconds one program may take (120)
#   CTRKIT_OCI_LOGS      a directory to keep every program's TAP output in
#   CTRKIT_OCI_CACHE     where the built programs are kept
#                        (~/.cache/ctrkit/runtime-tools-VERSION)
#   CTRKIT_OCI_HIDE_UNIFIED=1  unmount /sys/fs/cgroup/unified in the private
#                        namespace (automatic for crun: crun 1.8 refuses a
#                        hybrid cgroup layout)
#
# The suite is github.com/opencontainers/runtime-tools' validation/ folder:
# 58 Go programs, each one driving the runtime through runc's command line
# (`$RUNTIME create --bundle B ID`, start, state, kill, delete) on bundles it
# generates, and printing TAP.  Most of them copy `runtimetest`, a static
# checker, into the container as its process, which reads the spec from
# inside and compares it with what it sees (/proc, mounts, limits...).
# Each program needs, in its working directory, `runtimetest` and
# `rootfs-<GOARCH>.tar.gz` (here: the busybox rootfs of scripts/mk-rootfs.sh);
# it makes bundles with mktemp in $TMPDIR and removes them recursively.
#
# The programs are built from the Go module proxy (the module's own go.mod
# and go.sum; ctrkit's go.mod is not touched) and cached.  They run as root,
# one after the other, inside a private mount namespace where `/` is
# read-only and only the work dir, a fresh tmpfs on /run (the runtimes'
# state) and /sys/fs/cgroup are writable: some programs bind-mount the
# host's /etc with shared propagation into a bundle that is then removed
# with os.RemoveAll.  They also run in a private PID namespace, so any
# process a program forgets (linux_ns_path* start `unshare ... sleep 10000`)
# dies with it.  Cgroups are not namespaced: any a program leaves behind is
# reported, and removed when empty.
#
# Prints one TAP line per program and "N of 58 programs passing".
set -euo pipefail

version=v0.9.1-0.20250523060157-0ea5ed0382a2
module=github.com/opencontainers/runtime-tools

repo=$(cd "$(dirname "$0")/.." && pwd)
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}

# ---- inside the private namespaces (this script runs itself there) -------
if [ "${1-}" = __inside ]; then
	work=$2
	shift 2
	# The work dir keeps its own (writable) mount when / goes read-only;
	# runtimes keep state under /run (runc: /run/runc): a tmpfs that dies
	# with the namespace.  remount,bind,ro changes this mount only, not the
	# filesystem (a plain remount,ro would make the host's / read-only).
	mount --bind "$work" "$work"
	mount -t tmpfs -o mode=0755 ck-oci-run /run
	mount -o remount,bind,ro /
	if [ "${CTRKIT_OCI_HIDE_UNIFIED:-0}" = 1 ] && mountpoint -q /sys/fs/cgroup/unified; then
		umount /sys/fs/cgroup/unified
	fi
	# net_cls and net_prio are v1-only controllers. A hybrid host that
	# mounts neither (they sit unused in the v2 hierarchy, /proc/cgroups
	# says hierarchy 0) gets them here in a v1 hierarchy that this
	# namespace alone sees and that the kernel dissolves when it ends.
	# The linux_cgroups_*network programs look for them at
	# /sys/fs/cgroup/net_cls and /sys/fs/cgroup/net_prio; that directory is
	# a tmpfs shared with the host, so the namespace gets its own tmpfs
	# there, with the host's hierarchies moved onto it.
	net=/sys/fs/cgroup/net_cls,net_prio
	if awk '$1 == "net_cls" && $2 == 0 { f = 1 } END { exit !f }' /proc/cgroups &&
		! grep -q ' - cgroup .*net_cls' /proc/self/mountinfo; then
		keep=$work/.cgroup-host
		mkdir "$keep"
		mount --rbind /sys/fs/cgroup "$keep"
		mount -t tmpfs -o mode=0755 ck-oci-cgroup /sys/fs/cgroup
		for d in "$keep"/*/; do
			d=${d%/}
			mkdir "/sys/fs/cgroup/${d##*/}"
			mount --move "$d" "/sys/fs/cgroup/${d##*/}"
		done
		umount "$keep"
		rmdir "$keep"
		mkdir "$net"
		mount -t cgroup -o net_cls,net_prio ck-oci-net "$net"
		ln -s net_cls,net_prio /sys/fs/cgroup/net_cls
		ln -s net_cls,net_prio /sys/fs/cgroup/net_prio
	fi
	cd "$work"
	export TMPDIR=$work/tmp RUNTIME=$CTRKIT_OCI_RUNTIME
	mkdir -p "$TMPDIR" logs
	for prog in "$@"; do
		start=${EPOCHREALTIME/./}
		rc=0
		timeout --kill-after=5 "${CTRKIT_OCI_TIMEOUT:-120}" "$CTRKIT_OCI_CACHE/$prog" >"logs/$prog.tap" 2>"logs/$prog.err" </dev/null || rc=$?
		echo "$prog $rc $(((${EPOCHREALTIME/./} - start) / 1000))" >>results
	done
	if mountpoint -q "$net"; then
		# What the runtime left there; its processes died with the run.
		find "$net" -mindepth 1 -depth -type d -exec rmdir {} + ||
			echo "# cgroups left in the namespace's net_cls,net_prio hierarchy" >&2
		umount "$net"
	fi
	exit 0
fi

# dissolve_net: a v1 hierarchy outlives its last mount while it still has
# cgroups, even dying ones (a socket made in a container holds its
# cgroup a while), and the kernel does not dissolve it later by itself:
# the host would go on listing net_cls in every /proc/PID/cgroup. Mounting
# it again once they are gone and unmounting it dissolves it.
if [ "${1-}" = __dissolve_net ]; then
	d=$2
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		awk '$1 == "net_cls" && $2 != 0 { f = 1 } END { exit !f }' /proc/cgroups || exit 0
		mount -t cgroup -o net_cls,net_prio ck-oci-net "$d"
		find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null || true
		umount "$d"
		sleep 0.5
	done
	echo "test-oci: the net_cls,net_prio hierarchy the run mounted is still there (see /proc/cgroups)" >&2
	exit 0
fi

# ---- outside -------------------------------------------------------------
runtime=${CTRKIT_OCI_RUNTIME:-$repo/bin/ctrkit-runc}
min_pass=${CTRKIT_OCI_MIN_PASS:-45}
cache=${CTRKIT_OCI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ctrkit/runtime-tools-$version}

if [ "$(id -u)" -ne 0 ]; then
	echo "test-oci: the suite creates containers, mounts and cgroups: run it as root (sudo $0)" >&2
	exit 1
fi
if ! runtime=$(command -v "$runtime"); then
	echo "test-oci: runtime '${CTRKIT_OCI_RUNTIME:-$repo/bin/ctrkit-runc}' not found: run 'make build', or set CTRKIT_OCI_RUNTIME (e.g. CTRKIT_OCI_RUNTIME=runc)" >&2
	exit 1
fi
runtime=$(realpath -s "$runtime")
if [ "$(basename "$(realpath "$runtime")")" = crun ]; then
	: "${CTRKIT_OCI_HIDE_UNIFIED:=1}"
fi
export CTRKIT_OCI_RUNTIME=$runtime CTRKIT_OCI_HIDE_UNIFIED CTRKIT_OCI_CACHE=$cache

# Build once: every validation program and runtimetest (static, it runs in
# the busybox rootfs), from the module's own source in the module cache.
if ! [ -x "$cache/runtimetest" ] || [ "$(find "$cache" -maxdepth 1 -type f | wc -l)" -lt 59 ]; then
	echo "test-oci: building $module@$version into $cache" >&2
	tmpmod=$(mktemp -d "${TMPDIR:-/tmp}/ck-oci-mod.XXXXXX")
	# `go mod download` needs a module to run in; this one is thrown away.
	(cd "$tmpmod" && "$GO" mod init ck-oci >/dev/null 2>&1)
	dir=$(cd "$tmpmod" && "$GO" mod download -json "$module@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	rm -rf "$tmpmod"
	[ -d "$dir" ] || { echo "test-oci: go mod download $module@$version gave no source dir" >&2; exit 1; }
	rm -rf "$cache.new"
	mkdir -p "$cache.new"
	# The module zip has no vendor/ tree: -mod=mod resolves its go.mod from
	# the proxy (verified by its go.sum).
	(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod "$GO" build -trimpath -tags 'netgo osusergo' \
		-o "$cache.new/" ./validation/... ./cmd/runtimetest)
	rm -rf "$cache"
	mv "$cache.new" "$cache"
fi
mapfile -t all < <(find "$cache" -maxdepth 1 -type f -executable ! -name runtimetest -printf '%f\n' | sort)
progs=("$@")
[ "${#progs[@]}" -gt 0 ] || progs=("${all[@]}")
for p in "${progs[@]}"; do
	[ -x "$cache/$p" ] || { echo "test-oci: no validation program '$p' (have: ${all[*]})" >&2; exit 2; }
done

work=$(mktemp -d /tmp/ck-oci.XXXXXX)
# Traversable by the ids a user namespace maps root to (linux_uid_mappings).
chmod 0755 "$work"
# ns-enter's compiled seccomp filters (ROOT/cache) go with the work dir.
export CTRKIT_ROOT=$work/root
cgroups_before=$work.cgroups
# Cgroups are global: report (and remove, when empty) what the suite left,
# also when this script fails half-way.
cgroup_leaks() {
	[ -f "$cgroups_before" ] || return 0
	local leaked
	leaked=$(comm -13 "$cgroups_before" <(find /sys/fs/cgroup -type d 2>/dev/null | sort))
	[ -n "$leaked" ] || return 0
	echo "# the suite left these cgroups (removed when empty):"
	printf '%s\n' "$leaked" | sed 's/^/#   /'
	printf '%s\n' "$leaked" | sort -r | while read -r d; do rmdir "$d" 2>/dev/null || true; done
}
cleanup() {
	cgroup_leaks
	if findmnt -rn -o TARGET | grep -qF "$work"; then
		echo "test-oci: mounts left under $work, not removing it" >&2
	else
		rm -rf "$work"
	fi
	rm -f "$cgroups_before"
}
trap cleanup EXIT
cp "$cache/runtimetest" "$work/runtimetest"
"$repo/scripts/mk-rootfs.sh" "$work/rootfs"
arch=$("$GO" env GOARCH)
tar --numeric-owner -C "$work/rootfs" -czf "$work/rootfs-$arch.tar.gz" .
rm -rf "$work/rootfs"

find /sys/fs/cgroup -type d 2>/dev/null | sort >"$cgroups_before"
net_was_free=0
awk '$1 == "net_cls" && $2 == 0 { f = 1 } END { exit !f }' /proc/cgroups && net_was_free=1

echo "test-oci: runtime $runtime ($("$runtime" --version 2>/dev/null | head -n 1 || echo '?'))" >&2
t0=$(date +%s)
unshare --mount --pid --fork --mount-proc --propagation private -- "$0" __inside "$work" "${progs[@]}"
if [ "$net_was_free" = 1 ]; then
	mkdir -p "$work/net"
	unshare --mount --propagation private -- "$0" __dissolve_net "$work/net"
	rmdir "$work/net"
fi
wall=$(($(date +%s) - t0))

# judge PROG RC: a program passes when it exits 0, its plans (1..N; some
# programs print two TAP documents) add up to the test lines it printed,
# none of them is "not ok" (except TAP's "# TODO"), and it printed no
# orphan diagnostic with an "error" (hooks, prestart, poststart... report
# a broken rule that way, then plan 1..0, which TAP alone reads as a skip).
# A program that prints no TAP at all is judged by its exit status: the
# *_fail programs expect `create` to fail, and exit 1 only when it did not.
judge() {
	local tap=$work/logs/$1.tap rc=$2
	awk -v rc="$rc" '
		/^1\.\.[0-9]+/ { plan += substr($1, 4) + 0; hasplan = 1; last = "plan"; next }
		/^ok / { n++; if (tolower($0) ~ /# skip/) skipped++; last = "test"; next }
		/^not ok / { n++; last = "test"; if (tolower($0) !~ /# todo/) { failed++; if (!first) first = $0 }; next }
		/^  ---$/ { inyaml = 1; orphan = (last != "test"); next }
		/^  \.\.\.$/ { inyaml = 0; next }
		inyaml && orphan && /"error": / && !err { err = $0; sub(/^ *"error": "/, "", err); sub(/\\n.*/, "", err) }
		/^TAP version/ { last = "" }
		END {
			why = ""
			if (rc != 0) why = "exit status " rc
			else if (!hasplan && n == 0 && !err) { printf "pass 0 0\n"; exit }
			else if (!hasplan) why = "no TAP plan"
			else if (plan != n) why = "planned " plan ", ran " n
			else if (failed) why = failed " of " n " failed"
			else if (err != "") why = "reported: " err
			if (why == "") { printf "pass %d %d\n", n, skipped; exit }
			if (failed) why = why "; first: " first
			printf "fail %s\n", why
		}' "$tap"
}

echo "TAP version 13"
echo "1..${#progs[@]}"
i=0 passed=0
while read -r prog rc ms; do
	i=$((i + 1))
	read -r verdict rest < <(judge "$prog" "$rc")
	secs=$(awk -v ms="$ms" 'BEGIN { printf "%.1f", ms / 1000 }')
	if [ "$verdict" = pass ]; then
		passed=$((passed + 1))
		read -r n skipped <<<"$rest"
		note="$n tests"
		[ "${skipped:-0}" -eq 0 ] || note="$note, $skipped skipped"
		echo "ok $i - $prog ($note, ${secs}s)"
	else
		echo "not ok $i - $prog (${secs}s): $rest"
		err=$(grep -v '^\s*$' "$work/logs/$prog.err" | tail -n 2 | cut -c1-300 || true)
		[ -z "$err" ] || printf '%s\n' "$err" | sed 's/^/  # /'
	fi
done <"$work/results"

if [ -n "${CTRKIT_OCI_LOGS:-}" ]; then
	mkdir -p "$CTRKIT_OCI_LOGS"
	cp "$work"/logs/* "$CTRKIT_OCI_LOGS/"
fi

echo "# $(basename "$runtime"): $passed of ${#progs[@]} programs passing (wall ${wall}s)"
if [ "$passed" -lt "$min_pass" ]; then
	echo "# fewer than CTRKIT_OCI_MIN_PASS=$min_pass" >&2
	exit 1
fi
