# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 2, cgroups: what a container may use.
exercise 2.1 'the cgroup /ctrkit/ex2-small: 16 MiB of memory, 10 processes'
exercise 2.2 'the cgroup /ctrkit/ex2-oom has seen the OOM killer'
exercise 2.3 'the cgroup /ctrkit/ex2-ice holds a frozen process'

ex_2_1() {
	local mem pids
	if ! mem=$(cgvalue ex2-small memory); then
		why="no cgroup /ctrkit/ex2-small"
		hint="cg-limit create NAME with docker's flags"
		return 1
	fi
	pids=$(cgvalue ex2-small pids)
	if [ "$mem" != $((16 << 20)) ] || [ "$pids" != 10 ]; then
		why="/ctrkit/ex2-small allows $mem bytes and $pids processes, not $((16 << 20)) and 10"
		hint="cg-limit update ex2-small -m 16m --pids-limit 10"
		return 1
	fi
}

ex_2_2() {
	local mem kills
	if ! mem=$(cgvalue ex2-oom memory); then
		why="no cgroup /ctrkit/ex2-oom"
		hint="cg-limit create ex2-oom -m SIZE (cg-limit run removes its cgroup when the command ends)"
		return 1
	fi
	if [ "$mem" = max ]; then
		why="/ctrkit/ex2-oom has no memory limit"
		return 1
	fi
	kills=$(cgvalue ex2-oom oom_kills)
	if [ "$kills" -lt 1 ]; then
		why="nothing in /ctrkit/ex2-oom was OOM-killed yet (oom_kill 0)"
		hint="cg-limit add ex2-oom PID, then let that process allocate more than the limit (dd bs=64M)"
		return 1
	fi
}

ex_2_3() {
	local procs f
	if ! f=$(cgfile ex2-ice cgroup.procs cgroup.procs); then
		why="no cgroup /ctrkit/ex2-ice"
		hint="cg-limit create ex2-ice, then cg-limit add ex2-ice PID"
		return 1
	fi
	procs=$(wc -l <"$f")
	if [ "$procs" -lt 1 ]; then
		why="/ctrkit/ex2-ice has no process"
		hint="cg-limit add ex2-ice PID (e.g. of a sleep in the background)"
		return 1
	fi
	if [ "$(cgvalue ex2-ice frozen)" != 1 ]; then
		why="/ctrkit/ex2-ice is not frozen"
		hint="cg-limit freeze ex2-ice"
		return 1
	fi
}
