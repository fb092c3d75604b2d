# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 0, the overview: a detached container and what its stages made.
exercise 0.1 'a detached web server named ex0-web'
exercise 0.2 'ex0-web may use 48 MiB of memory'

ex_0_1() {
	container ex0-web || { hint=${hint:-"ctr-run -d --name ex0-web ... busybox httpd -f ..."}; return 1; }
	local argv0
	argv0=$(tr '\0' '\n' <"/proc/$cpid/cmdline" | head -n 1)
	if [ "${argv0##*/}" != httpd ]; then
		why="ex0-web's PID 1 runs \"$argv0\", not httpd"
		hint="busybox httpd -f (-f: stay in the foreground, or PID 1 exits at once)"
		return 1
	fi
}

ex_0_2() {
	container ex0-web || { hint="do 0.1 first"; return 1; }
	local limit
	limit=$(cgvalue "$cid" memory) || { why="ex0-web has no memory cgroup /ctrkit/$cid"; return 1; }
	if [ "$limit" != $((48 << 20)) ]; then
		why="the memory limit of /ctrkit/$cid is $limit, not $((48 << 20)) (48 MiB)"
		hint="ctr-run's -m takes docker's sizes (48m); a running container's limit changes with cg-limit update $cid -m ..."
		return 1
	fi
}
