# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 11, overlay: VXLAN, and addresses nobody hands out twice.
exercise 11.1 'the overlay network ex11: VNI 4711, flooding to the peer 198.51.100.9'
exercise 11.2 'the namespace ck-ex11-a is on ex11, with an address from this host'"'"'s range'

ex_11_1() {
	local details
	if ! details=$(ip -d link show vx-ex11 2>/dev/null); then
		why="no VXLAN device vx-ex11 (ip -d link show vx-ex11)"
		hint="net-bridge create --driver overlay --name ex11 ..."
		return 1
	fi
	if ! grep -qE 'vxlan id 4711 ' <<<"$details"; then
		why="vx-ex11 is not VNI 4711: $(grep -o 'vxlan id [0-9]*' <<<"$details")"
		return 1
	fi
	if ! bridge fdb show dev vx-ex11 | grep -q '^00:00:00:00:00:00 dst 198.51.100.9 '; then
		why="vx-ex11 does not flood to 198.51.100.9 (bridge fdb show dev vx-ex11)"
		hint="--peer 198.51.100.9, or net-bridge peer add"
		return 1
	fi
}

ex_11_2() {
	ex_11_1 || return 1
	local addr local_
	addr=$(ip -n ck-ex11-a -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}')
	if [ -z "$addr" ]; then
		why="no network namespace ck-ex11-a with an eth0 address"
		hint="net-bridge attach --network ex11 --id ex11-a"
		return 1
	fi
	local_=$(ip -d link show vx-ex11 | grep -oE 'local [0-9.]+' | cut -d' ' -f2)
	# The range is numbered by the last byte of the host's underlay address.
	if [ "$(cut -d. -f3 <<<"$addr")" != "${local_##*.}" ]; then
		why="ck-ex11-a has $addr, outside the range of the host $local_"
		return 1
	fi
}
