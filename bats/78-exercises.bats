#!/usr/bin/env bats
# The exercises at the end of each chapter, and their checker: for a few
# chapters, scripts/check fails before the solution (saying what is missing,
# with a hint), the solution's commands from docs/solutions.md make it pass,
# and after the solution's clean-up it fails again, nothing left behind.
# Every test runs in a network namespace this file makes as the "host", with
# its own state directory and store. (docs/solutions.md as a whole, setup
# included, runs in 20-docs.bats.)

load helpers

setup_file() {
	load helpers
	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root CTRKIT_STATE=$BATS_FILE_TMPDIR/state
	export CTRKIT_ANSWERS=$BATS_FILE_TMPDIR/answers
	mkdir -p "$CTRKIT_ANSWERS"
	make_host_netns
	"$REPO/scripts/mk-image.sh" busybox:latest
}

teardown_file() {
	ip netns del "$HOSTNS" 2>/dev/null || true
}

setup() {
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
}

teardown() {
	# Whatever a failed test left: removed the way a user would.
	remove_host_containers
	cg-limit thaw ex2-ice >/dev/null 2>&1 || true
	cg-limit kill ex2-ice KILL >/dev/null 2>&1 || true
	cg-limit rm ex2-small ex2-oom ex2-ice >/dev/null 2>&1 || true
	fs-layer rm ex3-cow >/dev/null 2>&1 || true
	fs-layer volume rm ex3-data >/dev/null 2>&1 || true
}

# solution CHAPTER: a script of the chapter's blocks in docs/solutions.md,
# the solution (which runs the checker, so it fails unless all pass) and then
# its clean-up, in the setting the document's "Before you start" makes.
solution() {
	local script=$BATS_TEST_TMPDIR/solution-$1.sh
	{
		echo 'set -eo pipefail'
		echo "cd '$REPO'"
		echo "host=$HOSTNS scratch='$BATS_TEST_TMPDIR'"
		echo 'onhost() { nsenter --net=/run/netns/$host "$@"; }'
		awk -v ch="$1." '
			/^## / { insec = ($2 == ch); next }
			insec && /^```sh[[:space:]]*$/ { inblock = 1; next }
			inblock && /^```/ { inblock = 0; next }
			inblock { print; next }
		' "$REPO/docs/solutions.md"
	} >"$script"
	grep -q "scripts/check $1\$" "$script" || fail "docs/solutions.md has no solution for chapter $1 that runs scripts/check $1"
	echo "$script"
}

# exercise CHAPTER N: fails before, passes with the solution, fails after
# the clean-up.
exercise() {
	local ch=$1 n=$2 i
	run_tool --status 1 host "$REPO/scripts/check" "$ch"
	for ((i = 1; i <= n; i++)); do
		assert_line --regexp "^$ch\.$i FAIL  \(.*\): .+"
	done
	assert_line --partial "    hint: "
	refute_line --partial " pass "

	run_tool host bash "$(solution "$ch")"
	for ((i = 1; i <= n; i++)); do
		assert_line --regexp "^$ch\.$i pass  \(.*\)$"
	done

	run_tool --status 1 host "$REPO/scripts/check" "$ch"
	refute_line --partial " pass "
	assert_equal "$(find "$CTRKIT_STATE" -mindepth 2 -maxdepth 2 -name meta.json | wc -l)" 0
}

@test "scripts/check 1 [namespaces: a hostname, the host's network]" {
	requires root overlay busybox
	exercise 1 2
}

@test "scripts/check 2 [cgroups: limits, an OOM kill, a frozen cgroup]" {
	requires root busybox
	exercise 2 3
}

@test "scripts/check 2.1 [a wrong limit is not a pass]" {
	requires root
	run_tool cg-limit create ex2-small -m 32m --pids-limit 10
	run_tool --status 1 "$REPO/scripts/check" 2.1
	assert_output --partial "allows 33554432 bytes and 10 processes, not 16777216 and 10"
	run_tool cg-limit update ex2-small -m 16m
	run_tool "$REPO/scripts/check" 2.1
	assert_output --regexp '^2\.1 pass'
	run_tool cg-limit rm ex2-small
}

@test "scripts/check 8.1 [a writable root is not a pass]" {
	requires root overlay busybox
	run_tool host ctr-run -d --name ex8-ro busybox sleep 1000
	run_tool --status 1 host "$REPO/scripts/check" 8.1
	assert_output --regexp "^8\.1 FAIL  \(.*\): ex8-ro's / is mounted rw"
	assert_line "    hint: ctr-run --read-only"
	run_tool host ctr-run rm -f ex8-ro
}

@test "scripts/check 3 [layers: copy-on-write in the upper dir, a volume]" {
	requires root overlay busybox
	exercise 3 2
}

@test "scripts/check 5 [network: a published port, a broken DNAT rule]" {
	requires root overlay busybox
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	exercise 5 2
}

@test "scripts/check 7 [docker's flags as cgroup files; pause]" {
	requires root overlay busybox
	exercise 7 2
}

@test "scripts/check [every chapter has exercises, a checker and a solution]" {
	local chapter n ids
	for chapter in "$REPO"/docs/[0-9][0-9]-*.md; do
		n=$((10#$(basename "$chapter" | cut -c1-2)))
		grep -q '^## Exercises$' "$chapter" || fail "$chapter has no Exercises section"
		ids=$(awk '$1 == "exercise" {print $2}' "$REPO/scripts/exercises/$(printf %02d "$n").bash")
		[ "$(wc -w <<<"$ids")" -ge 2 ] || fail "scripts/exercises/$(printf %02d "$n").bash checks fewer than 2 exercises"
		for id in $ids; do
			grep -qF -- "- **$id**" "$chapter" || fail "$chapter does not state exercise $id"
			grep -q "^$id pass " "$REPO/docs/solutions.md" || fail "docs/solutions.md does not show $id passing"
		done
	done
	run_tool --status 2 "$REPO/scripts/check" 12
	run_tool --status 2 "$REPO/scripts/check" 1.9
}
