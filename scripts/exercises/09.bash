# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 9, the OCI runtime: create, then start; and under containerd.
exercise 9.1 'ctrkit-runc container ex9-a is created, not started'
exercise 9.2 'ctrkit-runc container ex9-b runs, with the hostname ex9-b'
exercise 9.3 'the containerd task ex9-ctr runs under ctrkit-runc'

# runc_state ID [ROOT]: sets status and rpid from ctrkit-runc state ID.
runc_state() {
	local json
	if ! json=$(ctrkit-runc ${2:+--root "$2"} state "$1" 2>/dev/null); then
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

ex_9_3() {
	local f args shim='' ns dir status rpid
	# containerd runs a shim per task: containerd-shim-runc-v2 -namespace NS -id ID ...
	while read -r f; do
		args=$(tr '\0' ' ' <"$f" 2>/dev/null)
		case $args in
		*containerd-shim*" -id ex9-ctr "*)
			shim=${f#/proc/} shim=${shim%/cmdline}
			break
			;;
		esac
	done < <(grep -las -- ex9-ctr /proc/[0-9]*/cmdline)
	if [ -z "$shim" ]; then
		why="no containerd shim runs a task ex9-ctr"
		hint="ctr run -d ... docker.io/library/busybox:latest ex9-ctr sleep 1000, against a containerd of your own (chapter 9)"
		return 1
	fi
	ns=$(sed -n 's/.* -namespace \([^ ]*\) .*/\1/p' <<<"$args")
	# The shim gives its runtime --root /run/containerd/runc/NS, in
	# containerd's mount namespace: /proc/SHIM/root is the way in.
	dir=/proc/$shim/root/run/containerd/runc/$ns
	if [ ! -e "$dir/ex9-ctr/ctrkit" ]; then
		why="ex9-ctr's runtime state ($dir/ex9-ctr) is not ctrkit-runc's: the shim ran another runtime"
		hint="ctr run --runc-binary \"\$(command -v ctrkit-runc)\""
		return 1
	fi
	runc_state ex9-ctr "$dir" || return 1
	if [ "$status" != running ]; then
		why="ex9-ctr is $status, not running"
		return 1
	fi
}
