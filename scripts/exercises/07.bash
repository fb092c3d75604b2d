# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 7, putting it together: docker's flags, and the cgroup files they write.
exercise 7.1 'ex7-app: 64 MiB, half a CPU, 50 processes at most'
exercise 7.2 'ex7-app is paused'

ex_7_1() {
	container ex7-app || { hint=${hint:-"ctr-run -d --name ex7-app ... busybox sleep 1000"}; return 1; }
	local mem quota pids
	mem=$(cgvalue "$cid" memory) quota=$(cgvalue "$cid" quota) pids=$(cgvalue "$cid" pids)
	if [ "$mem" != $((64 << 20)) ]; then
		why="ex7-app's memory limit is $mem, not $((64 << 20))"
		hint="-m 64m"
		return 1
	fi
	if [ "$quota" != 50000 ]; then
		why="ex7-app's CPU quota is $quota µs per 100000, not 50000"
		hint="--cpus 0.5"
		return 1
	fi
	if [ "$pids" != 50 ]; then
		why="ex7-app's pids limit is $pids, not 50"
		hint="--pids-limit 50"
		return 1
	fi
}

ex_7_2() {
	container ex7-app || { hint="do 7.1 first"; return 1; }
	if [ "$(cgvalue "$cid" frozen)" != 1 ]; then
		why="ex7-app's cgroup /ctrkit/$cid is not frozen"
		hint="ctr-run pause (the freezer: cgroup.freeze on v2, freezer.state on v1)"
		return 1
	fi
}
