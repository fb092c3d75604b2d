# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 1, namespaces: what a container can see.
exercise 1.1 'ex1-host answers to the hostname exercise-one'
exercise 1.2 'ex1-hostnet shares the host'"'"'s network, not its processes'

ex_1_1() {
	container ex1-host || { hint=${hint:-"ctr-run -d --name ex1-host, and a flag docker has for the host name"}; return 1; }
	if [ "$(readlink "/proc/$cpid/ns/uts")" = "$(readlink /proc/self/ns/uts)" ]; then
		why="ex1-host shares the host's UTS namespace: its hostname would be the host's"
		return 1
	fi
	local name
	name=$(nsenter --uts --target "$cpid" hostname)
	if [ "$name" != exercise-one ]; then
		why="ex1-host's hostname is \"$name\", not exercise-one"
		hint="ctr-run --hostname NAME (the UTS namespace's sethostname)"
		return 1
	fi
}

ex_1_2() {
	container ex1-hostnet || { hint=${hint:-"ctr-run -d --name ex1-hostnet --network ... busybox sleep 1000"}; return 1; }
	if [ "$(readlink "/proc/$cpid/ns/net")" != "$(readlink /proc/self/ns/net)" ]; then
		why="ex1-hostnet has a network namespace of its own ($(readlink "/proc/$cpid/ns/net"))"
		hint="--network host leaves out CLONE_NEWNET (and run the checker in the namespace your containers call host)"
		return 1
	fi
	if [ "$(readlink "/proc/$cpid/ns/pid")" = "$(readlink /proc/self/ns/pid)" ]; then
		why="ex1-hostnet shares the host's PID namespace too"
		return 1
	fi
}
