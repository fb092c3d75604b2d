#!/bin/sh
# vm-tap.sh — what the guest scripts (vm-cg-limit.sh, vm-swap-io.sh,
# vm-ctr-run.sh) share: TAP lines and a JSON number reader, in busybox sh.
# Each script sources it from /job (make test-cgroups copies it there).
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { # check NAME CMD...: ok when CMD succeeds
	name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
# json_num FIELD: the first "FIELD": N in the JSON on stdin (cg-limit stats --format json)
json_num() { sed -n "s/.*\"$1\": *\\(-\\{0,1\\}[0-9]*\\).*/\\1/p" | head -n 1; }
