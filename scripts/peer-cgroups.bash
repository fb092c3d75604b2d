# peer-cgroups.bash — sourced by the benchmarks that run peers which put
# their containers under a parent cgroup of their own in every hierarchy
# and leave it there (podman with cgroupfs: libpod_parent; dockerd:
# docker). peer_cgroups_before NAME… remembers which of those parents are
# not there yet; peer_cgroups_remove removes them again, deepest first and
# only when empty (rmdir), so a benchmark leaves the host's cgroups as it
# found them.

peer_cgroups_before() {
	peer_cgroups_made=()
	local name dir
	for name in "$@"; do
		for dir in /sys/fs/cgroup/"$name" /sys/fs/cgroup/*/"$name"; do
			[ -e "$dir" ] && continue 2
		done
		peer_cgroups_made+=("$name")
	done
}

peer_cgroups_remove() {
	local name dir
	for name in "${peer_cgroups_made[@]}"; do
		for dir in /sys/fs/cgroup/"$name" /sys/fs/cgroup/*/"$name"; do
			[ -d "$dir" ] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
		done
	done
	return 0
}
