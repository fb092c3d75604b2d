#!/usr/bin/env bash
# doc-test.sh — run every command of a tutorial chapter, in order.
#
# Usage: scripts/doc-test.sh docs/NN-chapter.md
#
# The chapter's ```sh blocks are joined into one bash script (so variables
# and the working directory carry from block to block) that stops at the
# first failing command; a block fenced as ```sh fails must exit non-zero
# instead.  ```text blocks show output and are not run.  The script runs as a
# reader would: in a fresh shell, in the repository root, with only what the
# README's setup gives (bin/ built, no ctrkit command on PATH: a chapter puts
# them there itself, as it tells the reader to).  It runs in a process group
# of its own, so whatever it leaves running is ended when it finishes.
set -euo pipefail

doc=${1:?usage: doc-test.sh docs/NN-chapter.md}
repo=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$doc" ] || { echo "doc-test: no such chapter: $doc" >&2; exit 1; }
doc=$(cd "$(dirname "$doc")" && pwd)/$(basename "$doc")

script=$(mktemp "${TMPDIR:-/tmp}/ck-doc.XXXXXX")
sid=$script.sid
trap 'rm -f "$script" "$sid"' EXIT

awk -v doc="$doc" -v sidfile="$sid" '
	BEGIN { print "echo $$ >" sidfile; print "set -eo pipefail" }
	/^```sh( fails)?[[:space:]]*$/ && !inblock {
		inblock = 1; fails = ($2 == "fails"); start = NR
		printf "echo %c--- %s:%d%c >&2\n", 39, doc, NR, 39
		if (fails) print "if ("
		next
	}
	/^```/ && inblock {
		inblock = 0
		if (fails) printf ") >&2; then echo %c%s:%d: this block should fail, but it succeeded%c >&2; exit 1; fi\n", 39, doc, start, 39
		next
	}
	inblock { print }
' "$doc" >"$script"

# A world-searchable temporary directory: a chapter may map root to an
# unprivileged uid that must reach its files.
work=$(mktemp -d /tmp/ck-doc.XXXXXX)
chmod 755 "$work"

cd "$repo"
# A reader's root shell: the system PATH, none of the suite's directories.
PATH=$(printf '%s\n' "${PATH//:/$'\n'}" | grep -vxF -e "$repo/bin" -e "$repo/scripts" | paste -sd:)
export PATH TMPDIR=$work
status=0
setsid --wait bash -x "$script" || status=$?
# The chapter ran in a session of its own: end whatever it left running.
if [ -s "$sid" ]; then
	pkill -KILL -s "$(cat "$sid")" 2>/dev/null || true
fi
# rm -rf would descend into a mount a failed chapter left: refuse then.
if findmnt -rn -o TARGET | grep -qF "$work/"; then
	echo "doc-test: mounts left under $work, not removing it" >&2
	status=1
else
	rm -rf "$work"
fi
exit "$status"
