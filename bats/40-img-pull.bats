#!/usr/bin/env bats
# img-pull against the real CNCF registry (Debian's docker-registry) on
# 127.0.0.1: an image is a manifest, a config and layers, each named by its
# digest, and the store is an OCI image layout other tools can read.
# Nothing here leaves 127.0.0.1.

load helpers
load img-pull

setup_file() {
	load helpers
	load img-pull
	start_registry
	# A 3-layer image: a small file, a layer that changes it, and a 48 MB
	# layer of random bytes (big enough to kill a pull in the middle).
	local src=$BATS_FILE_TMPDIR/src
	mkdir -p "$src/l1/etc" "$src/l2/etc" "$src/l3"
	echo one >"$src/l1/etc/motd"
	echo two >"$src/l2/etc/motd"
	head -c 48M /dev/urandom >"$src/l3/big"
	for l in l1 l2 l3; do tar -C "$src/$l" -cf "$src/$l.tar" .; done
	CTRKIT_ROOT=$src/root img-pull import --cmd=/bin/sh --cmd=-c --cmd='cat /etc/motd' -e GREETING=hi \
		"$src/l1.tar" "$src/l2.tar" "$src/l3.tar" ck/demo:1 >/dev/null 2>&1
	skopeo copy -q --dest-tls-verify=false "oci:$src/root/oci:docker.io/ck/demo:1" "docker://$REGISTRY/ck/demo:1"
	export REGISTRY
}

teardown_file() {
	load img-pull
	stop_registry
}

setup() {
	export CTRKIT_ROOT=$BATS_TEST_TMPDIR/root
}

@test "img-pull REGISTRY/ck/demo:1 [an OCI layout that skopeo, oci-image-tool and umoci read]" {
	run_tool --separate-stderr img-pull --print digest "$REGISTRY/ck/demo:1"
	assert_output --regexp '^sha256:[0-9a-f]{64}$'
	local digest=$output
	assert_stderr_contains "4 blobs downloaded"

	run_tool skopeo inspect "oci:$CTRKIT_ROOT/oci:$REGISTRY/ck/demo:1"
	assert_equal "$(jq -r .Digest <<<"$output")" "$digest"
	assert_equal "$(jq '.Layers | length' <<<"$output")" 3

	if command -v oci-image-tool >/dev/null; then
		run_tool oci-image-tool validate --type image "$CTRKIT_ROOT/oci"
	fi
	if command -v umoci >/dev/null; then
		run_tool umoci unpack --rootless --image "$CTRKIT_ROOT/oci:$REGISTRY/ck/demo:1" "$BATS_TEST_TMPDIR/bundle"
		assert_equal "$(cat "$BATS_TEST_TMPDIR/bundle/rootfs/etc/motd")" two
	fi
}

@test "img-pull REF; img-pull REF [the second pull downloads no blob]" {
	run_tool --separate-stderr img-pull "$REGISTRY/ck/demo:1"
	run_tool --separate-stderr img-pull --explain "$REGISTRY/ck/demo:1"
	assert_stderr_contains "0 blobs downloaded"
	assert_stderr_contains "4 already stored"
	refute_stderr_contains "/blobs/sha256:"
}

@test "img-pull REF | jq [the runtime spec converted from the image config]" {
	run_tool --separate-stderr img-pull "$REGISTRY/ck/demo:1"
	assert_equal "$(jq -c .process.args <<<"$output")" '["/bin/sh","-c","cat /etc/motd"]'
	assert_equal "$(jq -r '.process.env | index("GREETING=hi") != null' <<<"$output")" true
	assert_equal "$(jq -r .process.cwd <<<"$output")" /
	assert_equal "$(jq -r '.annotations["org.opencontainers.image.ref.name"]' <<<"$output")" "$REGISTRY/ck/demo:1"
	local digest
	digest=$(jq -r '.annotations["org.opencontainers.image.manifest.digest"]' <<<"$output")
	run_tool img-pull inspect "$REGISTRY/ck/demo:1"
	assert_equal "$(jq -r .digest <<<"$output")" "$digest"
}

@test "img-pull --explain REF [the registry conversation, with curl equivalents]" {
	run_tool --separate-stderr img-pull --explain --print digest "$REGISTRY/ck/demo:1"
	assert_stderr_contains "[img-pull] GET http://$REGISTRY/v2/ → 200"
	assert_stderr_contains "/v2/ck/demo/manifests/1 → 200 application/vnd.oci.image.manifest.v1+json"
	assert_stderr_contains "\$ curl -sS -L -o blob http://$REGISTRY/v2/ck/demo/blobs/sha256:"
	assert_stderr_contains "verified, renamed into blobs/sha256/"
}

@test "kill -9 img-pull mid-download; img-pull again [completes, and the store validates]" {
	img-pull --jobs 1 -q "$REGISTRY/ck/demo:1" >/dev/null 2>&1 3>&- &
	local pid=$! i
	# Wait for a partial blob, then kill without warning.
	for ((i = 0; i < 500; i++)); do
		compgen -G "$CTRKIT_ROOT/oci.tmp/*" >/dev/null && break
		sleep 0.01
	done
	[ "$i" -lt 500 ] || fail "img-pull never started writing a blob"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" || true
	echo "left behind by the kill: $(ls "$CTRKIT_ROOT/oci.tmp")"
	# The tag is written last: after the kill the image is not there.
	run_tool --status 1 --separate-stderr img-pull inspect "$REGISTRY/ck/demo:1"
	run_tool --separate-stderr img-pull --print digest "$REGISTRY/ck/demo:1"
	run_tool skopeo inspect "oci:$CTRKIT_ROOT/oci:$REGISTRY/ck/demo:1"
	if command -v oci-image-tool >/dev/null; then
		run_tool oci-image-tool validate --type image "$CTRKIT_ROOT/oci"
	fi
	run_tool img-pull gc
	run_tool img-pull gc
	assert_output "removed 0 blobs, 0B freed"
}

@test "img-pull ls | inspect | rm | gc" {
	run_tool --separate-stderr img-pull --print digest "$REGISTRY/ck/demo:1"
	local digest=$output
	run_tool img-pull ls
	assert_line --regexp "^$REGISTRY/ck/demo:1 +${digest:0:19} +linux/[a-z0-9]+ +50\.[0-9]MB"
	run_tool img-pull inspect "${digest:0:19}"
	assert_equal "$(jq '.manifest.layers | length' <<<"$output")" 3
	assert_equal "$(jq -c .config.config.Cmd <<<"$output")" '["/bin/sh","-c","cat /etc/motd"]'
	run_tool img-pull gc
	assert_output "removed 0 blobs, 0B freed"
	run_tool --separate-stderr img-pull rm "$REGISTRY/ck/demo:1"
	assert_output "untagged $REGISTRY/ck/demo:1 ($digest)"
	run_tool img-pull gc
	assert_output --regexp '^removed 5 blobs, 50\.[0-9]MB freed$'
	assert_equal "$(ls "$CTRKIT_ROOT/oci/blobs/sha256" | wc -l)" 0
	assert_equal "$(jq '.manifests | length' "$CTRKIT_ROOT/oci/index.json")" 0
}

@test "img-pull [bad inputs: unknown tag, unknown image, malformed name, no registry]" {
	run_tool --status 1 --separate-stderr img-pull "$REGISTRY/ck/demo:nope"
	assert_stderr_contains "manifest \"nope\" not found"
	run_tool --status 1 --separate-stderr img-pull "$REGISTRY/ck/nothere:1"
	assert_stderr_contains "not found"
	run_tool --status 1 --separate-stderr img-pull 'Bad Name'
	assert_stderr_contains 'parse image reference "Bad Name"'
	run_tool --status 1 --separate-stderr img-pull 127.0.0.1:1/ck/demo:1
	assert_stderr_contains "cannot reach registry 127.0.0.1:1"
	run_tool --status 1 --separate-stderr img-pull --platform linux/s390x "$REGISTRY/ck/demo:1"
	assert_stderr_contains "not linux/s390x"
	run_tool --status 1 --separate-stderr img-pull inspect ck/demo:1
	assert_stderr_contains "image not in the store"
	# Nothing failed half-way into the store.
	assert_equal "$(jq '.manifests | length' "$CTRKIT_ROOT/oci/index.json")" 0
}

@test "img-pull --pull missing|never REF [the store answers; the registry is asked only for what is missing]" {
	run_tool --separate-stderr img-pull "$REGISTRY/ck/demo:1"
	run_tool --separate-stderr img-pull --explain --pull missing "$REGISTRY/ck/demo:1"
	assert_stderr_contains "is in the store"
	refute_stderr_contains "curl"
	assert_equal "$(jq -c .process.args <<<"$output")" '["/bin/sh","-c","cat /etc/motd"]'
	assert_equal "$(jq -r '.mounts[0].destination' <<<"$output")" /proc
	run_tool --separate-stderr --status 1 img-pull --pull never "$REGISTRY/ck/nothere:1"
	refute_stderr_contains "curl"
}
