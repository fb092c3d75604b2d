#!/usr/bin/env bats
# The image store as other tools read it and as an attacker edits it:
# Docker schema 2 images and manifest lists stored with OCI media types
# (oci-image-tool, umoci and skopeo accept the layout), OCI artifacts and
# foreign layers pulled, and every read checked against its digest.
# Nothing here leaves 127.0.0.1.

load helpers
load img-pull

# put_blob REPO FILE: a monolithic upload (POST, then PUT ?digest=).
put_blob() {
	local digest loc
	digest=sha256:$(sha256sum <"$2" | cut -d' ' -f1)
	loc=$(curl -fsS -X POST -D - -o /dev/null "http://$REGISTRY/v2/$1/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
	curl -fsS -X PUT -H 'Content-Type: application/octet-stream' --data-binary "@$2" "$loc&digest=$digest" >/dev/null
}

# put_manifest REPO TAG MEDIATYPE FILE
put_manifest() {
	curl -fsS -X PUT -H "Content-Type: $3" --data-binary "@$4" "http://$REGISTRY/v2/$1/manifests/$2" >/dev/null
}

setup_file() {
	load helpers
	load img-pull
	start_registry
	local src=$BATS_FILE_TMPDIR/src arch
	mkdir -p "$src/l1/etc" "$src/l2/etc"
	echo one >"$src/l1/etc/motd"
	echo two >"$src/l2/etc/motd"
	for l in l1 l2; do tar -C "$src/$l" -cf "$src/$l.tar" .; done
	CTRKIT_ROOT=$src/root img-pull import --cmd=/bin/cat --cmd=/etc/motd "$src/l1.tar" "$src/l2.tar" ck/demo:1 >/dev/null 2>&1
	# The same image as Docker pushes it (schema 2), and in a Docker
	# manifest list next to a second platform.
	skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$src/root/oci:docker.io/ck/demo:1" "docker://$REGISTRY/ck/docker:1"
	skopeo copy -q --dest-tls-verify=false --format v2s2 "oci:$src/root/oci:docker.io/ck/demo:1" "docker://$REGISTRY/ck/list:one"
	skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/ck/list:one" >"$src/one.json"
	arch=$(dpkg --print-architecture)
	jq -n --arg d "sha256:$(sha256sum <"$src/one.json" | cut -d' ' -f1)" --argjson s "$(stat -c %s "$src/one.json")" --arg a "$arch" '{
		schemaVersion: 2, mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
		manifests: [
			{mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: $d, size: $s, platform: {os: "linux", architecture: "s390x"}},
			{mediaType: "application/vnd.docker.distribution.manifest.v2+json", digest: $d, size: $s, platform: {os: "linux", architecture: $a}}]}' >"$src/list.json"
	put_manifest ck/list 1 application/vnd.docker.distribution.manifest.list.v2+json "$src/list.json"
	export REGISTRY
}

teardown_file() {
	load img-pull
	stop_registry
}

setup() {
	export CTRKIT_ROOT=$BATS_TEST_TMPDIR/root
}

# validators IMAGE-NAME: oci-image-tool, umoci and skopeo read the layout.
validators() {
	run_tool oci-image-tool validate --type image "$CTRKIT_ROOT/oci"
	run_tool umoci unpack --rootless --image "$CTRKIT_ROOT/oci:$1" "$BATS_TEST_TMPDIR/bundle"
	assert_equal "$(cat "$BATS_TEST_TMPDIR/bundle/rootfs/etc/motd")" two
	run_tool skopeo copy -q "oci:$CTRKIT_ROOT/oci:$1" "oci:$BATS_TEST_TMPDIR/copy:x"
	chmod -R u+w "$BATS_TEST_TMPDIR/bundle" && rm -rf "$BATS_TEST_TMPDIR/bundle" "$BATS_TEST_TMPDIR/copy"
}

@test "img-pull a Docker schema 2 image [stored with OCI media types; oci-image-tool, umoci, skopeo accept it; the registry's digest still finds it]" {
	local reg
	reg=sha256:$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/ck/docker:1" | sha256sum | cut -d' ' -f1)
	run_tool --separate-stderr img-pull --print digest "$REGISTRY/ck/docker:1"
	local digest=$output
	[ "$digest" != "$reg" ] || fail "the manifest was stored as the registry has it"
	assert_stderr_contains "stored with OCI media types; the registry's digest is $reg"
	run_tool img-pull inspect "$REGISTRY/ck/docker:1"
	assert_equal "$(jq -r .registryDigest <<<"$output")" "$reg"
	assert_equal "$(jq -r '[.manifest.mediaType, .manifest.config.mediaType, .manifest.layers[].mediaType] | unique | join(" ")' <<<"$output")" \
		"application/vnd.oci.image.config.v1+json application/vnd.oci.image.layer.v1.tar+gzip application/vnd.oci.image.manifest.v1+json"
	validators "$REGISTRY/ck/docker:1"
	# NAME@<registry digest>, and the bare digest, name the stored image.
	run_tool img-pull inspect "$REGISTRY/ck/docker@$reg"
	assert_equal "$(jq -r .digest <<<"$output")" "$digest"
	run_tool img-pull inspect "${reg:0:19}"
	assert_equal "$(jq -r .digest <<<"$output")" "$digest"
	run_tool --separate-stderr img-pull --pull never --print digest "$REGISTRY/ck/docker@$reg"
	assert_output "$digest"
}

@test "img-pull a Docker manifest list [the host's manifest stored as OCI; the list's digest finds it; the validators accept it]" {
	local list
	list=sha256:$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/ck/list:1" | sha256sum | cut -d' ' -f1)
	run_tool --separate-stderr img-pull --print digest "$REGISTRY/ck/list:1"
	local digest=$output
	run_tool img-pull inspect "$REGISTRY/ck/list@$list"
	assert_equal "$(jq -r .digest <<<"$output")" "$digest"
	assert_equal "$(jq -r .listDigest <<<"$output")" "$list"
	assert_equal "$(jq -r .manifest.mediaType <<<"$output")" application/vnd.oci.image.manifest.v1+json
	validators "$REGISTRY/ck/list:1"
}

@test "img-pull an OCI artifact [stored; running it is refused with a clear message]" {
	local d=$BATS_TEST_TMPDIR
	printf '{}' >"$d/empty"
	echo "a note, not a file system" >"$d/note"
	put_blob ck/art "$d/empty"
	put_blob ck/art "$d/note"
	jq -n --arg n "sha256:$(sha256sum <"$d/note" | cut -d' ' -f1)" --argjson s "$(stat -c %s "$d/note")" '{
		schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", artifactType: "application/vnd.example.note.v1",
		config: {mediaType: "application/vnd.oci.empty.v1+json", digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", size: 2},
		layers: [{mediaType: "text/plain", digest: $n, size: $s}]}' >"$d/art.json"
	put_manifest ck/art 1 application/vnd.oci.image.manifest.v1+json "$d/art.json"

	run_tool --separate-stderr img-pull --print digest "$REGISTRY/ck/art:1"
	run_tool img-pull inspect "$REGISTRY/ck/art:1"
	assert_equal "$(jq -r .artifactType <<<"$output")" application/vnd.example.note.v1
	run_tool img-pull verify "$REGISTRY/ck/art:1"
	# A runtime spec (what ctr-run's pipeline asks for) cannot be made.
	run_tool --status 1 --separate-stderr img-pull --print spec "$REGISTRY/ck/art:1"
	assert_stderr_contains "$REGISTRY/ck/art:1 is an OCI artifact, not a container image: it was stored, but it has no root file system to run"
	run_tool --status 1 --separate-stderr img-pull --pull never --print spec "$REGISTRY/ck/art:1"
	assert_stderr_contains 'is an OCI artifact, not a container image (type "application/vnd.example.note.v1")'
	run_tool --status 1 --separate-stderr fs-layer tree "$REGISTRY/ck/art:1"
	assert_stderr_contains "is an OCI artifact, not a container image"
	run_tool ! --separate-stderr ctr-run run --rm --network none "$REGISTRY/ck/art:1"
	assert_stderr_contains "is an OCI artifact, not a container image"
	run_tool ctr-run ps -a
	refute_output --partial ck/art
	# An artifact has no layers: fs-layer gc goes on around it.
	run_tool fs-layer gc --dry-run
}

@test "img-pull an image with foreign layers [fetched from their URLs, stored as non-distributable layers]" {
	local d=$BATS_TEST_TMPDIR raw
	raw=$(skopeo inspect --tls-verify=false --raw "docker://$REGISTRY/ck/docker:1")
	curl -fsS -o "$d/config" "http://$REGISTRY/v2/ck/docker/blobs/$(jq -r .config.digest <<<"$raw")"
	put_blob ck/foreign "$d/config"
	# The layers are not in ck/foreign: only at the URLs the manifest gives.
	jq --arg base "http://$REGISTRY/v2/ck/docker/blobs/" '.layers |= map(.mediaType = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" | .urls = [$base + .digest])' \
		<<<"$raw" >"$d/foreign.json"
	put_manifest ck/foreign 1 application/vnd.docker.distribution.manifest.v2+json "$d/foreign.json"

	run_tool --separate-stderr img-pull --explain --print digest "$REGISTRY/ck/foreign:1"
	assert_stderr_contains "GET http://$REGISTRY/v2/ck/docker/blobs/sha256:"
	run_tool img-pull inspect "$REGISTRY/ck/foreign:1"
	assert_equal "$(jq -r '.manifest.layers[].mediaType' <<<"$output" | sort -u)" application/vnd.oci.image.layer.nondistributable.v1.tar+gzip
	assert_equal "$(jq -r '.manifest.layers[0].urls[0]' <<<"$output")" "http://$REGISTRY/v2/ck/docker/blobs/$(jq -r '.layers[0].digest' <<<"$raw")"
	run_tool img-pull verify
	assert_output "ok: 1 images, every blob has its size and digest"
	run_tool --separate-stderr fs-layer tree "$REGISTRY/ck/foreign:1"
}

@test "a tampered store [config Cmd, manifest, index.json size, oci-layout: each refused, img-pull verify says what is wrong]" {
	local name=$REGISTRY/ck/docker:1 t cfg man
	run_tool --separate-stderr img-pull --print digest "$name"
	man=$output
	cfg=$(jq -r .config.digest "$CTRKIT_ROOT/oci/blobs/sha256/${man#sha256:}")
	run_tool img-pull verify
	for t in config manifest index layer; do
		cp -a "$CTRKIT_ROOT" "$BATS_TEST_TMPDIR/$t"
	done
	# The config's Cmd changed to /bin/ls, same file name.
	t=$BATS_TEST_TMPDIR/config/oci/blobs/sha256/${cfg#sha256:}
	jq -c '.config.Cmd = ["/bin/ls"]' "$t" >"$t.new" && mv "$t.new" "$t"
	# The manifest edited (an annotation added).
	t=$BATS_TEST_TMPDIR/manifest/oci/blobs/sha256/${man#sha256:}
	jq -c '.annotations = {"x": "y"}' "$t" >"$t.new" && mv "$t.new" "$t"
	# index.json promises one byte more than the manifest has.
	t=$BATS_TEST_TMPDIR/index/oci/index.json
	jq '.manifests[0].size += 1' "$t" >"$t.new" && mv "$t.new" "$t"
	# A layer's last byte changed (same size).
	t=$(jq -r '.layers[1].digest' "$CTRKIT_ROOT/oci/blobs/sha256/${man#sha256:}")
	t=$BATS_TEST_TMPDIR/layer/oci/blobs/sha256/${t#sha256:}
	printf 'x' | dd of="$t" bs=1 seek=$(($(stat -c %s "$t") - 1)) conv=notrunc status=none

	for t in config manifest index; do
		CTRKIT_ROOT=$BATS_TEST_TMPDIR/$t run_tool --status 1 --separate-stderr img-pull --pull never "$name"
		assert_stderr_contains "the image store was changed after it was written; refusing to use it"
		CTRKIT_ROOT=$BATS_TEST_TMPDIR/$t run_tool --status 1 --separate-stderr fs-layer tree "$name"
		assert_stderr_contains "the image store was changed after it was written"
		CTRKIT_ROOT=$BATS_TEST_TMPDIR/$t run_tool --status 1 --separate-stderr img-pull verify
		assert_stderr_contains "verify: 1 problems"
	done
	CTRKIT_ROOT=$BATS_TEST_TMPDIR/config run_tool --status 1 img-pull verify
	assert_output --regexp "^config of $name \\($cfg\\): (size|digest) mismatch"
	CTRKIT_ROOT=$BATS_TEST_TMPDIR/manifest run_tool --status 1 img-pull verify
	assert_output --regexp "^manifest of $name \\($man\\): (size|digest) mismatch"
	CTRKIT_ROOT=$BATS_TEST_TMPDIR/index run_tool --status 1 img-pull verify
	assert_output --regexp "^manifest of $name \\($man\\): size mismatch: the blob has ([0-9]+) bytes, its descriptor says"
	# Same size, other bytes: only hashing finds it (verify, and fs-layer
	# when it unpacks and checks the diff_id).
	CTRKIT_ROOT=$BATS_TEST_TMPDIR/layer run_tool --status 1 img-pull verify
	assert_output --regexp "^layer 2 of $name \\(sha256:[0-9a-f]+\\): digest mismatch"
	CTRKIT_ROOT=$BATS_TEST_TMPDIR/layer CTRKIT_STATE=$BATS_TEST_TMPDIR/state run_tool ! --separate-stderr fs-layer mount "$name"
	assert_stderr_contains "layer 2 ("
	assert_stderr_contains "(nothing was stored)"

	rm "$CTRKIT_ROOT/oci/oci-layout"
	run_tool --status 1 --separate-stderr img-pull ls
	assert_stderr_contains "oci-layout: no such file or directory"
	[ ! -e "$CTRKIT_ROOT/oci/oci-layout" ] || fail "oci-layout was silently recreated"
	run_tool --status 1 --separate-stderr img-pull verify
	assert_output --partial "oci-layout: no such file or directory"
}
