#!/usr/bin/env bash
# doc-test.sh — run every command of a tutorial chapter, in order, and check
# what they print against what the chapter shows.
#
# Usage: scripts/doc-test.sh docs/NN-chapter.md
#
# The chapter's ```sh blocks are joined into one bash script (so variables
# and the working directory carry from block to block) that stops at the
# first failing command; a block fenced as ```sh fails must exit non-zero
# instead; one fenced as ```sh vm needs a throw-away guest (a swap device,
# say) and is not run here: make test-cgroups runs it in its cgroup v2
# guest and checks it the same way (scripts/test-cgroups.sh).  ```text blocks show output and are not run; one that follows a
# ```sh block directly (blank lines between at most) is what that block
# prints, stdout and stderr, and is checked (the chapter runs on, and fails
# at its end): every line it shows must be printed, in that order (a chapter
# may leave lines out, but not show one that is not printed), after both
# sides are normalised (runs of digits count as one number, hex ids of 12 or
# more digits as one id, runs of blanks as one blank); `…` in a line stands
# for any text.  The script
# runs as a reader would: in a fresh shell, in the repository root, with
# only what the README's setup gives (bin/ built, no ctrkit command on PATH:
# a chapter puts them there itself, as it tells the reader to).  It runs in
# a process group of its own, so whatever it leaves running is ended when
# it finishes.
set -euo pipefail

# --compare EXPECTED ACTUAL WHERE: the check of one block's output (called
# by the chapter's script).
if [ "${1-}" = --compare ]; then
	# A run with its own CTRKIT_STATE or CTRKIT_ROOT (the bats suite) prints
	# those where the reader sees the defaults.
	awk -v where="$4" -v state="${CK_DOC_STATE:-}" -v root="${CK_DOC_ROOT:-}" '
		function swap(s, from, to,   i) {
			if (from == "" || from == to) return s
			while ((i = index(s, from)) > 0) s = substr(s, 1, i - 1) to substr(s, i + length(from))
			return s
		}
		function norm(s) {
			gsub(/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]*/, "<id>", s); gsub(/[0-9]+/, "0", s)
			gsub(/[ \t]+/, " ", s); sub(/^ /, "", s); sub(/ $/, "", s)
			return s
		}
		function pattern(s,   out, i, c) {
			gsub(/[0-9a-f]+…/, "…", s) # an id cut short: …, as a whole id is one
			s = norm(s); out = ""
			gsub(/…/, "\001", s) # one byte, whether awk counts bytes or characters
			for (i = 1; i <= length(s); i++) {
				c = substr(s, i, 1)
				if (c == "\001") { out = out ".*"; continue }
				if (index("\\^$.[]|()*+?{}/", c)) c = "\\" c
				out = out c
			}
			return "^" out "$"
		}
		FNR == NR { want[++ne] = $0; next }
		{ got[++na] = norm(swap(swap($0, state, "/run/ctrkit"), root, "/var/lib/ctrkit")) }
		END {
			j = 1
			for (i = 1; i <= ne; i++) {
				if (norm(want[i]) == "…") continue
				p = pattern(want[i])
				while (j <= na && got[j] !~ p) j++
				if (j > na) { bad = want[i]; break }
				j++
			}
			if (bad != "") {
				printf "%s: the chapter shows a line the command did not print:\n  %s\n", where, bad > "/dev/stderr"
				exit 1
			}
		}
	' "$2" "$3"
	exit
fi

doc=${1:?usage: doc-test.sh docs/NN-chapter.md}
repo=$(cd "$(dirname "$0")/.." && pwd)
[ -f "$doc" ] || { echo "doc-test: no such chapter: $doc" >&2; exit 1; }
doc=$(cd "$(dirname "$doc")" && pwd)/$(basename "$doc")

script=$(mktemp "${TMPDIR:-/tmp}/ck-doc.XXXXXX")
sid=$script.sid
outdir=$(mktemp -d "${TMPDIR:-/tmp}/ck-doc-out.XXXXXX") # each block's output, and the text it should match
trap 'rm -rf "$script" "$sid" "$outdir"' EXIT

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
awk -v doc="$doc" -v sidfile="$sid" -v out="$outdir" -v self="$self" '
	BEGIN {
		print "echo $$ >" sidfile; print "set -eo pipefail"
		print "exec {ck_xtrace}>&2; BASH_XTRACEFD=$ck_xtrace; ck_differ=0"
	}
	/^```sh( fails)?[[:space:]]*$/ && !inblock {
		inblock = 1; fails = ($2 == "fails"); start = NR; n++; after = 0
		printf "echo %c--- %s:%d%c >&2\n", 39, doc, NR, 39
		if (fails) print "if ("
		else print "{"
		next
	}
	/^```/ && inblock {
		inblock = 0
		if (fails) printf ") >&2; then echo %c%s:%d: this block should fail, but it succeeded%c >&2; exit 1; fi\n", 39, doc, start, 39
		else {
			printf "} >%s/%d.out 2>&1\ncat %s/%d.out\n", out, n, out, n
			printf "if [ -f %s/%d.text ] && ! %s --compare %s/%d.text %s/%d.out %c%s:%d%c; then ck_differ=$((ck_differ + 1)); fi\n", out, n, self, out, n, out, n, 39, doc, start, 39
			after = n
		}
		next
	}
	inblock { print; next }
	END {
		printf "if [ $ck_differ -gt 0 ]; then echo \"%s: $ck_differ blocks printed other than the chapter shows (above)\" >&2; exit 1; fi\n", doc
	}
	/^```text[[:space:]]*$/ && after { intext = n; after = 0; next }
	/^```/ && intext { intext = 0; next }
	intext { print > (out "/" intext ".text"); next }
	/^[[:space:]]*$/ { next }
	{ after = 0 }
' "$doc" >"$script"

# A world-searchable temporary directory: a chapter may map root to an
# unprivileged uid that must reach its files.
work=$(mktemp -d /tmp/ck-doc.XXXXXX)
chmod 755 "$work"

cd "$repo"
# A reader's root shell: the system PATH, none of the suite's directories.
PATH=$(printf '%s\n' "${PATH//:/$'\n'}" | grep -vxF -e "$repo/bin" -e "$repo/scripts" | paste -sd:)
export PATH TMPDIR=$work
# The suite's own state and store (bats gives each run its own), which the
# comparison reads as the defaults the chapter shows; a chapter that sets
# CTRKIT_STATE itself shows its own.
export CK_DOC_STATE=${CTRKIT_STATE:-} CK_DOC_ROOT=${CTRKIT_ROOT:-}
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
