#!/usr/bin/env bash
# test.sh — everything CI checks, in order; the README's test command.
#
# Usage: sudo scripts/test.sh
#
# Installs missing packages (scripts/setup.sh), builds, lints, checks the
# generated docs for drift, runs the Go tests (as root, so privileged tests
# run instead of skipping) and the bats suite.  Exits non-zero if any step
# fails; every step runs even after an earlier one failed, and a summary
# line at the end says which ones failed.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
	echo "test.sh: the tests create namespaces, mounts and cgroups: run it as root (sudo $0)" >&2
	exit 1
fi

failed=() passed=()
step() {
	local name=$1
	shift
	printf '\n=== %s: %s\n' "$name" "$*"
	if "$@"; then
		passed+=("$name")
	else
		failed+=("$name")
		printf '=== %s FAILED\n' "$name"
	fi
}

step setup scripts/setup.sh
step build make build
# Nothing else makes sense without binaries or packages.
if [ "${#failed[@]}" -gt 0 ]; then
	echo "FAIL: ${failed[*]} (nothing tested)"
	exit 1
fi
step lint make lint
if [ -d docs/reference ]; then
	step docs make check-docs
fi
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
step unit bash -o pipefail -c "make unit GOTESTFLAGS=-v 2>&1 | tee $logs/unit"
step bats bash -o pipefail -c "make bats 2>&1 | tee $logs/bats"
# cg-limit on real cgroup v2 and v1 kernels, in QEMU guests (TAP lines).
step cgroup-vm bash -o pipefail -c "make test-cgroups 2>&1 | tee $logs/vm"
# The OCI runtime-tools validation suite against ctrkit-runc (80–125 s):
# 42 to 43 of its 58 programs pass here (docs/oci-validation.md says why
# the others do not); fewer than 41 is a regression. Two programs do not
# always give the same answer: poststart (racy by the suite's own design)
# and kill (its running case once found the container stopped; not yet
# understood). Its TAP is not in the count below: a program is not a test
# of ours.
step oci bash -o pipefail -c "CTRKIT_OCI_MIN_PASS=\${CTRKIT_OCI_MIN_PASS:-44} make test-oci 2>&1 | tee $logs/oci"

# One line that counts every test: Go tests and subtests, and bats tests.
count() { { grep -cE "$1" "$logs/unit" "$logs/bats" "$logs/vm" 2>/dev/null || true; } | awk -F: '{n += $2} END {print n + 0}'; }
skipped=$(count '^ *--- SKIP|^ok .* # skip')
passed_n=$(($(count '^ *--- PASS|^ok ') - $(count '^ok .* # skip')))
failed_n=$(count '^ *--- FAIL|^not ok ')

echo
if [ "${#failed[@]}" -gt 0 ]; then
	echo "FAIL: ${failed[*]} (passed: ${passed[*]})"
	echo "$passed_n passed, $failed_n failed, $skipped skipped"
	exit 1
fi
echo "PASS: ${passed[*]}"
echo "$passed_n passed, $failed_n failed, $skipped skipped"
