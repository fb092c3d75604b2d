# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 4, images: what the store holds, addressed by content.
exercise 4.1 'the image ex4:1: one layer with /hello.txt, CMD cat /hello.txt'
exercise 4.2 'the digest of busybox:latest'"'"'s manifest, in the answer file 4.2'

ex_4_1() {
	image ex4:1 || { hint="img-pull import --cmd=... ROOTFS.tar ex4:1"; return 1; }
	local cmd
	cmd=$(jq -c .config.Cmd "$config")
	if [ "$cmd" != '["cat","/hello.txt"]' ]; then
		why="ex4:1's CMD is $cmd, not [\"cat\",\"/hello.txt\"]"
		hint="img-pull import --cmd takes the command, as a Dockerfile's CMD"
		return 1
	fi
	layer_with ex4:1 hello.txt || { hint="tar -C DIR -cf ROOTFS.tar . with DIR/hello.txt"; return 1; }
}

ex_4_2() {
	local want
	image busybox:latest || { hint="scripts/mk-image.sh"; return 1; }
	want=sha256:${manifest##*/}
	answer 4.2 || { hint="img-pull inspect busybox, or the store's oci/index.json; write it to $answers/4.2"; return 1; }
	if [ "$said" != "$want" ]; then
		why="$answers/4.2 says $said; that is not busybox:latest's manifest"
		hint="a manifest digest is sha256: and the sha256sum of the manifest's bytes"
		return 1
	fi
	# The store never lies: the name of a blob is the hash of its bytes.
	if [ "$(sha256sum <"$manifest" | cut -d' ' -f1)" != "${manifest##*/}" ]; then
		why="the blob $manifest does not hash to its name: the store is damaged (img-pull verify)"
		return 1
	fi
}
