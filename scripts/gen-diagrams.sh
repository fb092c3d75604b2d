#!/usr/bin/env bash
# gen-diagrams.sh — regenerate the chapters' diagrams from real runs.
#
# Usage: scripts/gen-diagrams.sh [--check] [CHAPTER.md…]
#        (default: docs/[0-9][0-9]-*.md; make docs-diagrams, make check-docs)
#
# A generated diagram is a ```mermaid block right after a marker naming the
# command that draws it:
#
#   <!-- diagram: ctr-run --rm --network none --diagram - busybox true -->
#   ```mermaid
#   sequenceDiagram
#   …
#   ```
#
# Each marker's command runs as root in a test environment of its own: a
# fresh network namespace playing the host (nothing touches the real
# host's network), its own CTRKIT_STATE, and a store holding the offline
# busybox image (scripts/mk-image.sh), with bin/ first on PATH and TMPDIR
# /tmp.  What it
# prints on stdout is the diagram.  Then every container it made is
# removed and the namespace deleted.  Container ids and digests (hex runs
# of 12 digits or more) are written as ID, ID2, … so a run gives the same
# text every time.
#
# Without --check the blocks are rewritten in place.  With --check nothing
# is written: each diagram is compared with the one the chapter holds, once
# both are normalised (ids, and every run of digits as one number: sizes,
# addresses, counts that differ between hosts), and any difference fails.
# But for one: a run's cgroup steps differ between cgroup v1 and v2 (other
# files, one hierarchy or many), so a diagram that shows them ends with the
# layout it was drawn on (%% drawn on a host with cgroup v1), and on a host
# with the other layout it is drawn but not compared (said on stderr).
set -euo pipefail

check=
if [ "${1-}" = --check ]; then
	check=1
	shift
fi
repo=$(cd "$(dirname "$0")/.." && pwd)
if [ "$#" -eq 0 ]; then
	set -- "$repo"/docs/[0-9][0-9]-*.md
fi
[ "$(id -u)" = 0 ] || { echo "gen-diagrams: needs root (the diagrams come from real runs): sudo $0" >&2; exit 1; }
[ -x "$repo/bin/ctr-run" ] || { echo "gen-diagrams: no bin/ctr-run: run 'make build' first" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ck-diagrams.XXXXXX")
ns=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -z "$ns" ] || ip netns del "$ns" 2>/dev/null || true
	# rm -rf would walk into a mount a failed removal left.
	if findmnt -rn -o TARGET | grep -qF "$work/"; then
		echo "gen-diagrams: mounts left under $work, not removing it" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
export PATH=$repo/bin:$PATH CTRKIT_ROOT=$work/root
unset CTRKIT_EXPLAIN CTRKIT_STATE
"$repo/scripts/mk-image.sh" busybox:latest
# Unpacked once, before any run: a run then draws the same steps whichever
# chapter ran first.
fs-layer unpack busybox:latest >/dev/null

# ids: what changes from run to run becomes a fixed word: each id (a hex
# run of 12 digits or more; a 12-digit prefix of one is the same id) ID,
# ID2, ID3 in the order they first appear.
ids() {
	awk '{
		out = ""
		while (match($0, /[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]+/)) {
			key = substr($0, RSTART, 12)
			if (!(key in name)) name[key] = ++n == 1 ? "ID" : "ID" n
			out = out substr($0, 1, RSTART - 1) name[key]
			$0 = substr($0, RSTART + RLENGTH)
		}
		print out $0
	}'
}
# norm: what may differ between hosts (sizes, counts, addresses) too, an
# id a label cut short (d3a5f8…), and a label cut in or after a temporary
# directory's random number (ns-enter-exe.12345…, or .1234567"… when the
# number is shorter): from that number on.
norm() { ids | sed -E -e 's/(ns-enter-exe\.)[^…]*…/\1…/g' -e 's/[0-9a-f]+…/…/g' -e 's/[0-9]+/0/g'; }

# draw CMD: run one marker's command in its own "host" and print its diagram.
draw() {
	local cmd=$1 state=$work/state out rc=0
	ns=ck-dg$(printf '%06x' $((RANDOM << 8 | RANDOM & 255)))-h
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	# Forwarding on, as on a host that runs containers: a new namespace
	# copies the host's setting, and net-bridge turns it on when it is off,
	# a step the diagram would show on some machines only.
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1
	mkdir -p "$state" "$work/cwd"
	out=$(cd "$work/cwd" && TMPDIR=/tmp CTRKIT_STATE=$state nsenter --net=/run/netns/"$ns" bash -euo pipefail -c "$cmd" 2>"$work/err") || rc=$?
	local id
	for id in $(CTRKIT_STATE=$state nsenter --net=/run/netns/"$ns" ctr-run ps -a 2>/dev/null | awk 'NR > 1 { print $1 }'); do
		CTRKIT_STATE=$state nsenter --net=/run/netns/"$ns" ctr-run rm -f "$id" >/dev/null 2>&1 || true
	done
	ip netns del "$ns"
	ns=
	rm -rf "$state" "$work/cwd"
	if [ "$rc" != 0 ] || [ -z "$out" ]; then
		echo "gen-diagrams: '$cmd' failed (status $rc):" >&2
		cat "$work/err" >&2
		return 1
	fi
	printf '%s\n' "$out" | ids
}

# The layout the run's cgroup steps depend on; a diagram that shows them
# says which it was drawn on (a Mermaid comment, %% …, at its end).
layout="cgroup v1"
[ "$(stat -f -c %T /sys/fs/cgroup)" != cgroup2fs ] || layout="cgroup v2"

status=0
old=$work/old.mmd drawn=$work/drawn.mmd
for doc in "$@"; do
	[ -f "$doc" ] || { echo "gen-diagrams: no such chapter: $doc" >&2; exit 1; }
	# The chapter again, each marked block's body replaced by a fresh run's.
	new=$work/new.md
	: >"$new"
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s\n' "$line" >>"$new"
		[[ $line =~ ^\<!--\ diagram:\ (.*)\ --\>$ ]] || continue
		cmd=${BASH_REMATCH[1]}
		IFS= read -r fence || fence=
		[ "$fence" = '```mermaid' ] || { echo "gen-diagrams: $doc: a mermaid block must follow: $line" >&2; exit 1; }
		: >"$old"
		while IFS= read -r body && [ "$body" != '```' ]; do printf '%s\n' "$body" >>"$old"; done
		if draw "$cmd" </dev/null >"$drawn"; then
			! grep -q /sys/fs/cgroup "$drawn" || echo "%% drawn on a host with $layout" >>"$drawn"
		else
			status=1
			echo "(diagram failed)" >"$drawn"
		fi
		{
			printf '%s\n' "$fence"
			cat "$drawn"
			echo '```'
		} >>"$new"
		[ -n "$check" ] || continue
		if ! differ=$(diff -u --label "$doc: $cmd" --label "drawn now" <(norm <"$old") <(norm <"$drawn")); then
			made=$(sed -n 's/^%% drawn on a host with \(cgroup v[12]\)$/\1/p' "$old")
			if [ -n "$made" ] && [ "$made" != "$layout" ]; then
				echo "gen-diagrams: $doc: '$cmd' not compared: drawn on a host with $made, this one has $layout" >&2
			else
				printf '%s\n' "$differ"
				echo "gen-diagrams: $doc: the diagram of '$cmd' differs from what it draws now: run 'make docs-diagrams' and commit" >&2
				status=1
			fi
		fi
	done <"$doc"
	if [ -z "$check" ] && ! cmp -s "$new" "$doc"; then
		cp "$new" "$doc"
		echo "$doc"
	fi
done
exit "$status"
