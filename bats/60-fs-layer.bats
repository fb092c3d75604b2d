#!/usr/bin/env bats
# fs-layer: image layers stacked with overlayfs.  Each test is one statement
# about what the kernel shows when layers are unpacked, stacked, written to,
# diffed and committed.

load helpers

# The test image fl-feat:1 has three layers:
#   1. a busybox root filesystem (scripts/mk-rootfs.sh)
#   2. every kind of file: setuid, owned by 1000, symlink, hardlink, fifo,
#      device node, an xattr, a sticky dir, fixed mtimes; /opt/a and /opt/b
#   3. a whiteout deleting /etc/motd and an opaque /opt holding only c
setup_file() {
	requires root overlay busybox
	export FL=$BATS_FILE_TMPDIR
	make_rootfs "$FL/base"
	tar --numeric-owner -C "$FL/base" -cf "$FL/base.tar" .

	local l2=$FL/l2 l3=$FL/l3
	mkdir -p "$l2"/{opt,etc,home/u,dev,run,srv} "$l3"/{opt,etc}
	echo a >"$l2/opt/a"
	echo b >"$l2/opt/b"
	echo "welcome" >"$l2/etc/motd"
	printf '#!/bin/sh\necho hi\n' >"$l2/srv/suid" && chmod 4755 "$l2/srv/suid"
	ln "$l2/srv/suid" "$l2/srv/suid-link"
	ln -s ../opt/a "$l2/srv/to-a"
	echo mine >"$l2/home/u/owned" && chown -R 1000:1001 "$l2/home/u" && chmod 0640 "$l2/home/u/owned"
	mkfifo "$l2/run/fifo"
	mknod "$l2/dev/null" c 1 3
	setfattr -n user.color -v blue "$l2/opt/a"
	mkdir -m 1777 "$l2/srv/tmp"
	find "$l2" -exec touch -h -d '2020-02-02 12:00:00' {} +
	: >"$l3/etc/.wh.motd"
	: >"$l3/opt/.wh..wh..opq"
	echo c >"$l3/opt/c"

	tar --numeric-owner --xattrs --xattrs-include='user.*' -C "$l2" -cf "$FL/l2.tar" .
	tar --numeric-owner -C "$l3" -cf "$FL/l3.tar" .
	img-pull import "$FL/base.tar" fl-base:1 >/dev/null
	img-pull import "$FL/base.tar" "$FL/l2.tar" "$FL/l3.tar" fl-feat:1 >/dev/null
}

teardown() {
	# Whatever a failed test left: its containers, unmounted and removed.
	local id
	for id in "$(safename)" "$(safename)-b" "$(safename)-c"; do
		fs-layer rm -f "$id" 2>/dev/null || true
	done
}

# listing DIR: every entry with type, mode, owner, link target, size, mtime
# (not for directories, whose mtime a mount point changes), content hash
# and user xattrs, sorted, so two trees can be compared line by line.
listing() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 -printf '%P %y %m %U:%G %l %s\n' | sort
		find . -mindepth 1 ! -type d -printf '%P %T@\n' | sort
		find . -mindepth 1 -type f -print0 | sort -z | xargs -0 md5sum
		find . -mindepth 1 ! -type l -print0 | sort -z | xargs -0 getfattr -h -d -m '^user\.' 2>/dev/null
	)
}

@test "fs-layer mount fl-feat:1 [the merged tree equals umoci unpack]" {
	local id
	id=$(safename)
	run_tool fs-layer mount fl-feat:1 --name "$id"
	local rootfs=$output
	umoci unpack --image "$CTRKIT_ROOT/oci:docker.io/library/fl-feat:1" "$BATS_TEST_TMPDIR/bundle" >/dev/null
	diff -u <(listing "$BATS_TEST_TMPDIR/bundle/rootfs") <(listing "$rootfs")
	# The layer-3 whiteout and opaque dir did their work.
	assert_file_not_exists "$rootfs/etc/motd"
	assert_file_not_exists "$rootfs/opt/a"
	assert_equal "$(cat "$rootfs/opt/c")" c
	assert_equal "$(findmnt -n -o FSTYPE "$rootfs")" overlay
	run_tool fs-layer rm "$id"
	assert_file_not_exists "$rootfs"
}

@test "fs-layer mount, write in two containers [copy-on-write, isolated]" {
	local a b
	a=$(safename) b=$(safename)-b
	run_tool fs-layer mount fl-feat:1 --name "$a"
	local ra=$output
	run_tool fs-layer mount fl-feat:1 --name "$b"
	local rb=$output
	run_tool fs-layer unpack fl-feat:1
	local bottom=${lines[0]}
	echo changed >"$ra/etc/hostname"
	rm "$ra/bin/ls"
	echo new >"$ra/new"
	# The other container and the layer itself are unchanged.
	assert_equal "$(cat "$rb/etc/hostname")" ctrkit
	assert_equal "$(cat "$bottom/etc/hostname")" ctrkit
	assert_file_exists "$rb/bin/ls"
	assert_file_not_exists "$rb/new"
	run_tool fs-layer which "$a" /etc/hostname
	assert_output --partial "container layer"
	run_tool --status 1 fs-layer which "$a" /bin/ls
	assert_output --partial "deleted by a whiteout in the container layer"
	run_tool fs-layer which "$b" /opt/c
	assert_output --partial "layer 3 of 3"
	run_tool fs-layer which "$b" /bin/ls
	assert_output --partial "layer 1 of 3"
	run_tool --status 1 fs-layer which "$b" /opt/a
	run_tool fs-layer rm "$a" "$b"
}

@test "fs-layer diff ID > layer.tar [exactly the changes, whiteouts as .wh. entries]" {
	local id
	id=$(safename)
	run_tool fs-layer mount fl-feat:1 --name "$id"
	local r=$output
	echo changed >"$r/etc/hostname"
	rm "$r/bin/ls"
	rm -r "$r/srv"
	mkdir "$r/srv" && echo z >"$r/srv/z"
	run_tool fs-layer diff "$id" -o "$BATS_TEST_TMPDIR/layer.tar"
	run tar -tf "$BATS_TEST_TMPDIR/layer.tar"
	assert_output "bin/
bin/.wh.ls
etc/
etc/hostname
srv/
srv/.wh..wh..opq
srv/z"
	run tar -xOf "$BATS_TEST_TMPDIR/layer.tar" etc/hostname
	assert_output changed
	run_tool fs-layer rm "$id"
}

@test "fs-layer commit ID fl-feat:2 [a new image with the changes, readable by skopeo]" {
	local id c
	id=$(safename) c=$(safename)-c
	run_tool fs-layer mount fl-feat:1 --name "$id"
	local r=$output
	rm "$r/bin/ls"
	echo committed >"$r/committed"
	run_tool fs-layer commit "$id" fl-feat:2
	run_tool fs-layer rm "$id"
	run_tool skopeo inspect "oci:$CTRKIT_ROOT/oci:docker.io/library/fl-feat:2"
	assert_equal "$(jq '.Layers | length' <<<"$output")" 4
	run_tool img-pull ls
	assert_output --partial fl-feat:2
	run_tool fs-layer mount fl-feat:2 --name "$c"
	assert_equal "$(cat "$output/committed")" committed
	assert_file_not_exists "$output/bin/ls"
	assert_file_exists "$output/bin/sh"
	run_tool fs-layer rm "$c"
}

@test "fs-layer tree fl-feat:1 [a base layer two images share is stored once]" {
	run_tool fs-layer unpack fl-base:1
	local base=${lines[0]}
	run_tool fs-layer unpack fl-feat:1
	assert_equal "${lines[0]}" "$base"
	local chain=${base%/diff}
	chain=${chain##*/}
	run ls "$CTRKIT_ROOT/layers"
	assert_equal "$(grep -c "^$chain\$" <<<"$output")" 1
	run_tool fs-layer tree fl-feat:1
	assert_line --partial "layer 1 "
	assert_output --partial "shared with fl-base:1"
	run_tool fs-layer tree --mermaid fl-feat:1
	assert_line "flowchart BT"
	assert_line "  L2 --> L3"
}

@test "… | fs-layer mount -v VOL:/data -v DIR:/host:ro | ns-enter [volumes persist, ro binds refuse writes]" {
	local id vol
	id=$(safename) vol=$(safename)-vol
	mkdir -p "$BATS_TEST_TMPDIR/host"
	echo from-host >"$BATS_TEST_TMPDIR/host/f"
	ns-enter spec --rootfs / --pid --mount -- sh -c 'echo kept >/data/f; cat /host/f; touch /host/x' |
		jq 'del(.root)' >"$BATS_TEST_TMPDIR/spec.json"
	run_tool --stdin "$BATS_TEST_TMPDIR/spec.json" fs-layer mount fl-feat:1 --name "$id" -v "$vol:/data" -v "$BATS_TEST_TMPDIR/host:/host:ro" --tmpfs /scratch
	echo "$output" >"$BATS_TEST_TMPDIR/doc.json"
	assert_equal "$(jq -r .root.path <<<"$output")" "$CTRKIT_STATE/$id/rootfs"
	assert_equal "$(jq -c '[.mounts[] | select(.destination == "/host") | .options[]]' <<<"$output")" '["rbind","ro"]'
	assert_equal "$(jq -r '.mounts[] | select(.destination == "/scratch") | .type' <<<"$output")" tmpfs
	run_tool --separate-stderr --status 1 --stdin "$BATS_TEST_TMPDIR/doc.json" ns-enter
	assert_output from-host
	assert_stderr_contains "Read-only file system"
	assert_file_not_exists "$BATS_TEST_TMPDIR/host/x"
	run_tool fs-layer rm "$id"
	# A new container sees what the first wrote into the volume.
	run_tool fs-layer volume inspect "$vol"
	assert_equal "$(cat "$(jq -r .mountpoint <<<"$output")/f")" kept
	run_tool fs-layer volume ls
	assert_output --partial "$vol"
	run_tool fs-layer volume rm "$vol"
	assert_dir_not_exists "$CTRKIT_STATE/$id"
}

@test "fs-layer mount --driver copy [the same tree, copied]" {
	local id
	id=$(safename)
	run_tool fs-layer mount fl-feat:1 --name "$id"
	local over=$output
	run_tool fs-layer mount fl-feat:1 --name "$id-c" --driver copy
	local copy=$output
	diff -u <(listing "$over") <(listing "$copy")
	run_tool fs-layer ls
	assert_line --regexp "^$id-c +fl-feat:1 +3 +copy +true"
	run_tool fs-layer rm "$id" "$id-c"
}

@test "fs-layer mount EVIL [a layer writing outside is refused, nothing stored]" {
	mkdir -p "$BATS_TEST_TMPDIR/evil/in"
	echo x >"$BATS_TEST_TMPDIR/evil/escape"
	(cd "$BATS_TEST_TMPDIR/evil/in" && tar -cPf ../evil.tar ../escape)
	img-pull import "$BATS_TEST_TMPDIR/evil/evil.tar" fl-evil:1 >/dev/null
	local before
	before=$(ls "$CTRKIT_ROOT/layers")
	run_tool --separate-stderr ! fs-layer mount fl-evil:1 --name "$(safename)"
	assert_stderr_contains 'layer entry "../escape": name contains ".."'
	assert_equal "$(ls "$CTRKIT_ROOT/layers")" "$before"
	run ls "$CTRKIT_ROOT/layers/tmp"
	assert_output ""
	img-pull rm fl-evil:1 >/dev/null 2>&1
}

@test "fs-layer umount, mount again [the upper layer survives]; rm [all gone]" {
	local id
	id=$(safename)
	run_tool fs-layer mount fl-feat:1 --name "$id"
	local r=$output
	echo kept >"$r/kept"
	run_tool fs-layer umount "$id"
	run findmnt "$r"
	assert_failure
	run_tool fs-layer mount fl-feat:1 --name "$id"
	assert_equal "$(cat "$r/kept")" kept
	run_tool --separate-stderr ! fs-layer mount fl-feat:1 --name "$id"
	assert_stderr_contains "already mounted"
	run_tool fs-layer rm "$id"
	assert_dir_not_exists "$CTRKIT_ROOT/containers/$id"
	run_tool fs-layer ls
	refute_output --partial "$id"
}

@test "fs-layer rm after an rm that was interrupted [the rest goes; a record alone is forgotten]" {
	local id
	id=$(safename)
	# Killed half-way through rm -rf of the container, container.json gone
	# first: the mount, the upper layer and the record are left.
	ns-enter spec -- true | fs-layer mount --name "$id" fl-feat:1 >/dev/null
	local r=$CTRKIT_STATE/$id/rootfs
	rm "$CTRKIT_ROOT/containers/$id/container.json"
	run_tool fs-layer rm "$id"
	run findmnt "$r"
	assert_failure
	assert_dir_not_exists "$CTRKIT_ROOT/containers/$id"
	assert_dir_not_exists "$CTRKIT_STATE/$id"
	# Killed after the files went, before the record: only the record.
	ns-enter spec -- true | fs-layer mount --name "$id" fl-feat:1 >/dev/null
	umount "$r" && rm -r "$CTRKIT_ROOT/containers/$id" "$r"
	run_tool --separate-stderr fs-layer rm "$id"
	assert_stderr_contains "fs-layer: no container $id: forgot its record"
	assert_dir_not_exists "$CTRKIT_STATE/$id"
	# Neither: an error, as before.
	run_tool --separate-stderr ! fs-layer rm "$id"
	assert_stderr_contains "no container \"$id\""
}

@test "fs-layer mount killed at its mount(2) [recorded first: rm, as gc runs it, removes the rest]" {
	local id
	id=$(safename)
	run strace -f -qq -o /dev/null -e trace=mount -e inject=mount:signal=KILL \
		fs-layer mount --name "$id" fl-feat:1 <<<"$(ns-enter spec -- true)"
	assert_equal "$status" 137
	run_tool jq -r '.[] | select(.stage == "fs-layer") | .undo | join(" ")' "$CTRKIT_STATE/$id/resources.json"
	assert_output "fs-layer rm $id"
	run_tool fs-layer rm "$id"
	assert_dir_not_exists "$CTRKIT_ROOT/containers/$id"
	assert_dir_not_exists "$CTRKIT_STATE/$id"
}
