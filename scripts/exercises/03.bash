# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 3, layers: copy-on-write, whiteouts, volumes.
exercise 3.1 'in the fs-layer container ex3-cow, /etc/motd is new and /bin/ls is gone'
exercise 3.2 'the volume ex3-data holds greeting.txt saying hi'

ex_3_1() {
	local json=$root/containers/ex3-cow/container.json mp upper
	if [ ! -f "$json" ]; then
		why="no fs-layer container ex3-cow in $root/containers"
		hint="fs-layer mount busybox --name ex3-cow"
		return 1
	fi
	mp=$(jq -r .mountpoint "$json") upper=$(jq -r .dir "$json")/upper
	if ! findmnt -rn "$mp" >/dev/null; then
		why="ex3-cow is not mounted at $mp"
		return 1
	fi
	# The checker looks in the upper dir: the container's own changes.
	if [ "$(cat "$upper/etc/motd" 2>/dev/null)" != hello ]; then
		why="ex3-cow's upper dir $upper has no etc/motd saying hello"
		hint="write into the mount point ($mp/etc/motd), never into a layer"
		return 1
	fi
	if [ "$(stat -c '%F %t:%T' "$upper/bin/ls" 2>/dev/null)" != "character special file 0:0" ]; then
		why="ex3-cow's upper dir has no whiteout for bin/ls (a character device 0:0)"
		hint="rm $mp/bin/ls; overlayfs records the deletion in the upper dir"
		return 1
	fi
}

ex_3_2() {
	local data=$root/volumes/ex3-data/_data
	if [ ! -d "$data" ]; then
		why="no volume ex3-data in $root/volumes"
		hint="fs-layer volume create ex3-data (or ctr-run -v ex3-data:/PATH makes it)"
		return 1
	fi
	if [ "$(cat "$data/greeting.txt" 2>/dev/null)" != hi ]; then
		why="the volume ex3-data has no greeting.txt saying hi ($data)"
		hint="write it from a container: ctr-run --rm -v ex3-data:/data busybox sh -c '...'"
		return 1
	fi
}
