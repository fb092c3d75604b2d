#!/usr/bin/env bats
# Every command printed in a tutorial chapter runs here, in order, so the
# chapters cannot drift from what the commands really do.

load helpers

# The chapters use the runtimes' default state roots, as a reader does
# (ctrkit-runc's /run/ctrkit/runc, runc's /run/runc): a root this test made
# goes again once it is empty (rmdir removes nothing else).
state_roots=(/run/ctrkit/runc /run/ctrkit /run/runc)

setup() {
	made_roots=()
	local d
	for d in "${state_roots[@]}"; do
		[ -e "$d" ] || made_roots+=("$d")
	done
}

teardown() {
	local d
	for d in "${made_roots[@]}"; do
		rmdir "$d" 2>/dev/null || true
	done
}

@test "docs/00-overview.md [every command in the chapter runs]" {
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/00-overview.md"
}

@test "docs/01-namespaces.md [every command in the chapter runs]" {
	requires root busybox runc
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/01-namespaces.md"
}

@test "docs/04-images.md [every command in the chapter runs]" {
	command -v docker-registry >/dev/null || skip "needs docker-registry (apt-get install docker-registry)"
	command -v skopeo >/dev/null || skip "needs skopeo (apt-get install skopeo)"
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/04-images.md"
}

@test "docs/05-network.md [every command in the chapter runs]" {
	requires root busybox
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/05-network.md"
}

@test "docs/02-cgroups.md [every command in the chapter runs]" {
	requires root busybox
	command -v losetup >/dev/null || skip "needs losetup (util-linux)"
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/02-cgroups.md"
}

@test "docs/03-layers.md [every command in the chapter runs]" {
	requires root overlay busybox
	command -v skopeo >/dev/null || skip "needs skopeo (apt-get install skopeo)"
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/03-layers.md"
}

@test "docs/06-build.md [every command in the chapter runs]" {
	requires root overlay busybox
	command -v docker-registry >/dev/null || skip "needs docker-registry (apt-get install docker-registry)"
	command -v skopeo >/dev/null || skip "needs skopeo (apt-get install skopeo)"
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/06-build.md"
}

@test "docs/07-putting-it-together.md [every command in the chapter runs]" {
	requires root overlay busybox
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/07-putting-it-together.md"
}

@test "docs/08-security.md [every command in the chapter runs]" {
	requires root overlay busybox
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/08-security.md"
}

@test "docs/09-oci-runtime.md [every command in the chapter runs]" {
	requires root busybox
	command -v containerd >/dev/null || skip "needs containerd (apt-get install containerd)"
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/09-oci-runtime.md"
}

@test "docs/10-daemon.md [every command in the chapter runs]" {
	requires root overlay busybox
	[ -x /usr/bin/docker ] || skip "needs the docker client (apt-get install docker.io)"
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/10-daemon.md"
}

@test "docs/11-overlay.md [every command in the chapter runs]" {
	requires root busybox
	run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/11-overlay.md"
}

@test "docs/solutions.md [every exercise's solution runs, and the checker passes]" {
	requires root overlay busybox
	command -v nft >/dev/null || skip "needs nft (apt-get install nftables)"
	command -v containerd >/dev/null || skip "needs containerd (apt-get install containerd)"
	CTRKIT_TEST_TIMEOUT=${CTRKIT_TEST_TIMEOUT:-120} run_tool "$REPO/scripts/doc-test.sh" "$REPO/docs/solutions.md"
}

@test "docs/ [every chapter has a test above]" {
	local chapter
	for chapter in "$REPO"/docs/[0-9]*.md; do
		grep -qF "\"docs/$(basename "$chapter")" "$BATS_TEST_FILENAME" ||
			fail "$chapter has no doc-test in $BATS_TEST_FILENAME"
	done
}
