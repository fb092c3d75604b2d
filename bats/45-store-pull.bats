#!/usr/bin/env bats
# Pulls through a registry that fails: bats/faultproxy.py in front of the
# real registry answers 500 and 429, cuts connections in the middle of a
# blob and stops sending, and logs every request, so the tests can count
# what img-pull asked for. Nothing here leaves 127.0.0.1.

load helpers
load img-pull

setup_file() {
	load helpers
	load img-pull
	start_registry
	# Two small layers and a 24 MB one (big enough to cut twice).
	local src=$BATS_FILE_TMPDIR/src
	mkdir -p "$src/l1/etc" "$src/l2/etc" "$src/l3"
	echo one >"$src/l1/etc/motd"
	echo two >"$src/l2/etc/motd"
	head -c 24M /dev/urandom >"$src/l3/big"
	for l in l1 l2 l3; do tar -C "$src/$l" -cf "$src/$l.tar" .; done
	CTRKIT_ROOT=$src/root img-pull import --cmd=/bin/cat --cmd=/etc/motd "$src/l1.tar" "$src/l2.tar" "$src/l3.tar" ck/demo:1 >/dev/null 2>&1
	skopeo copy -q --dest-tls-verify=false "oci:$src/root/oci:docker.io/ck/demo:1" "docker://$REGISTRY/ck/demo:1"
	skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/ck/demo:1" >"$BATS_FILE_TMPDIR/manifest.json"
	export REGISTRY
}

teardown_file() {
	load img-pull
	stop_registry
}

setup() {
	export CTRKIT_ROOT=$BATS_TEST_TMPDIR/root
	start_faultproxy "$BATS_TEST_TMPDIR/proxy"
}

teardown() {
	stop_faultproxy "$BATS_TEST_TMPDIR/proxy"
}

faults() { echo "$1" >"$PROXY_DIR/faults.json"; }

# blobs: the digests of the config and the layers.
blobs() { jq -r '.config.digest, .layers[].digest' "$BATS_FILE_TMPDIR/manifest.json"; }

# big: the 24 MB layer's digest and size.
big() { jq -r '.layers | max_by(.size) | "\(.digest) \(.size)"' "$BATS_FILE_TMPDIR/manifest.json"; }

@test "img-pull through one 500 and one 429 (Retry-After: 1) [retried, the pull completes]" {
	faults '{"blob_500": 1, "blob_429": 1}'
	run_tool --separate-stderr img-pull --print digest "$PROXY/ck/demo:1"
	assert_stderr_contains "attempt 1 failed: GET http://$PROXY/v2/ck/demo/blobs/sha256:"
	assert_stderr_contains "500 Internal Server Error"
	assert_stderr_contains "429 Too Many Requests"
	assert_stderr_contains "retrying in 1s" # what Retry-After asked for
	assert_equal "$(grep -c ' 500 ' "$PROXY_DIR/log")" 1
	assert_equal "$(grep -c ' 429 ' "$PROXY_DIR/log")" 1
	run_tool img-pull verify
}

@test "img-pull through 30% random 500s [3 of 3 pulls complete]" {
	faults '{"rate_500": 0.3}'
	local i
	for i in 1 2 3; do
		CTRKIT_ROOT=$BATS_TEST_TMPDIR/root$i run_tool --separate-stderr img-pull -q --print digest "$PROXY/ck/demo:1"
	done
	echo "500s injected: $(grep -c ' 500 ' "$PROXY_DIR/log")"
	[ "$(grep -c ' 500 ' "$PROXY_DIR/log")" -ge 2 ] || fail "too few faults were injected to test anything"
}

@test "a connection cut mid-blob [the same pull resumes it with Range; a failed pull's bytes are kept for the next]" {
	local digest size
	read -r digest size < <(big)
	faults '{"cut": 2, "cut_after": 5000000}'
	# With one try the pull fails, and keeps the 5 MB it got.
	run_tool --status 1 --separate-stderr img-pull --retries 1 "$PROXY/ck/demo:1"
	assert_stderr_contains "(5000000 of $size bytes kept)"
	assert_equal "$(stat -c %s "$CTRKIT_ROOT/oci.tmp/${digest#sha256:}.partial")" 5000000
	# The next pull asks for the rest, is cut again 5 MB later, and asks
	# for the rest of the rest.
	run_tool --separate-stderr img-pull "$PROXY/ck/demo:1"
	assert_stderr_contains "attempt 1 failed"
	grep "/blobs/$digest " "$PROXY_DIR/log"
	grep -q "/blobs/$digest 206-cut range=bytes=5000000- sent=5000000" "$PROXY_DIR/log" || fail "no resumed request from byte 5000000"
	grep -q "/blobs/$digest 206 range=bytes=10000000- sent=$((size - 10000000))" "$PROXY_DIR/log" || fail "no resumed request from byte 10000000"
	# Every byte of the blob crossed the wire once.
	assert_equal "$(grep "/blobs/$digest " "$PROXY_DIR/log" | awk -F'sent=' '{ n += $2 } END { print n }')" "$size"
	run_tool img-pull verify
	assert_equal "$(find "$CTRKIT_ROOT/oci.tmp" -type f | wc -l)" 0
}

@test "a registry that stops sending [--stall-timeout retries the blob; --timeout ends the pull]" {
	faults '{"stall": 1, "stall_after": 1000000}'
	local start=$SECONDS
	run_tool --separate-stderr img-pull --stall-timeout 1s "$PROXY/ck/demo:1"
	assert_stderr_contains "no bytes received for 1s"
	[ $((SECONDS - start)) -lt 15 ] || fail "the stall took $((SECONDS - start))s to notice"
	grep -q "range=bytes=1000000-" "$PROXY_DIR/log" || fail "the stalled blob was not resumed"

	# Stalls without end: the whole pull gives up at --timeout.
	faults '{"stall": 1000, "stall_after": 1000}'
	start=$SECONDS
	CTRKIT_ROOT=$BATS_TEST_TMPDIR/root2 run_tool --status 1 --separate-stderr img-pull --timeout 3s "$PROXY/ck/demo:1"
	assert_stderr_contains "gave up after --timeout 3s"
	[ $((SECONDS - start)) -lt 10 ] || fail "--timeout 3s took $((SECONDS - start))s"
	run_tool --status 1 img-pull --root "$BATS_TEST_TMPDIR/root2" inspect "$PROXY/ck/demo:1"
}

@test "10 concurrent pulls of one image [each blob is downloaded once]" {
	local i pids=() d
	for i in $(seq 10); do
		img-pull -q --print digest "$PROXY/ck/demo:1" >"$BATS_TEST_TMPDIR/out$i" 2>&1 3>&- &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || fail "pull $((i + 1)) failed: $(cat "$BATS_TEST_TMPDIR/out$((i + 1))")"
	done
	assert_equal "$(sort -u "$BATS_TEST_TMPDIR"/out* | wc -l)" 1
	for d in $(blobs); do
		echo "$d: $(blob_gets "$d") GETs"
		assert_equal "$(blob_gets "$d")" 1
	done
	run_tool img-pull verify
}
