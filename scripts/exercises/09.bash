# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 9, the OCI runtime: create, then start.
exercise 9.1 'ctrkit-runc container ex9-a is created, not started'
exercise 9.2 'ctrkit-runc container ex9-b runs, with the hostname ex9-b'

# runc_state ID: sets status and rpid from ctrkit-runc state ID.
runc_state() {
	local json
	if ! json=$(ctrkit-runc state "$1" 2>/dev/null); then
		why="ctrkit-runc knows no container $1"
		hint="ctrkit-runc create --bundle DIR $1 (a bundle: config.json and rootfs/)"
		return 1
	fi
	status=$(jq -r .status <<<"$json") rpid=$(jq -r .pid <<<"$json")
}

ex_9_1() {
	local status rpid
	runc_state ex9-a || return 1
	if [ "$status" != created ]; then
		why="ex9-a is $status"
		hint="create only; start would run its program"
		return 1
	fi
	# The process is there, blocked in open() of the exec fifo.
	if [ "$(tr '\0' ' ' <"/proc/$rpid/cmdline" 2>/dev/null)" = "" ]; then
		why="ex9-a's process $rpid is gone"
		return 1
	fi
}

ex_9_2() {
	local status rpid name
	runc_state ex9-b || return 1
	if [ "$status" != running ]; then
		why="ex9-b is $status, not running"
		hint="its program must still run: process.args sleep 1000, then ctrkit-runc start ex9-b"
		return 1
	fi
	name=$(nsenter --uts --target "$rpid" hostname)
	if [ "$name" != ex9-b ]; then
		why="ex9-b's hostname is \"$name\""
		hint="the spec's .hostname (jq '.hostname = \"ex9-b\"' config.json)"
		return 1
	fi
}
