# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 6, build: a Dockerfile's instructions become layers and config.
exercise 6.1 'the image ex6:1: LABEL exercise=6, CMD cat /etc/motd'
exercise 6.2 'the digest of the layer of ex6:1 that holds /etc/motd, in the answer file 6.2'

ex_6_1() {
	image ex6:1 || { hint="img-build -t ex6:1 DIR, with a Dockerfile FROM busybox"; return 1; }
	local label cmd
	label=$(jq -r '.config.Labels.exercise // empty' "$config")
	cmd=$(jq -c .config.Cmd "$config")
	if [ "$label" != 6 ]; then
		why="ex6:1 has no label exercise=6"
		hint="LABEL exercise=6 in the Dockerfile"
		return 1
	fi
	if [ "$cmd" != '["cat","/etc/motd"]' ]; then
		why="ex6:1's CMD is $cmd"
		hint='CMD ["cat", "/etc/motd"] (the exec form)'
		return 1
	fi
	if ! layer_with ex6:1 etc/motd; then
		hint="a RUN step that writes /etc/motd"
		return 1
	fi
}

ex_6_2() {
	layer_with ex6:1 etc/motd || { hint="do 6.1 first"; return 1; }
	answer 6.2 || { hint="img-pull inspect ex6:1 lists the layers; tar -tf a blob lists its files"; return 1; }
	case " $layer " in
	*" $said "*) ;;
	*)
		why="$answers/6.2 says $said; the layer holding /etc/motd is another"
		hint="the blobs are in \$CTRKIT_ROOT/oci/blobs/sha256 (default /var/lib/ctrkit); either its digest or its diff id will do"
		return 1
		;;
	esac
}
