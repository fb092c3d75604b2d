# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 5, network: a published port is a DNAT rule; break one.
exercise 5.1 'ex5-web answers on port 8085 of the host'
exercise 5.2 'ex5-broken: port 8086 published, its DNAT rule for the host itself deleted'

# rules CHAIN PORT: the rules of chain CHAIN of table ip ctrkit for host port PORT.
rules() { nft list chain ip ctrkit "$1" 2>/dev/null | grep -E "dport $2 .*dnat"; }

ex_5_1() {
	container ex5-web || { hint=${hint:-"ctr-run -d --name ex5-web -p HOSTPORT:80 busybox httpd -f -p 80"}; return 1; }
	if ! rules prerouting 8085 >/dev/null; then
		why="no DNAT rule for port 8085 in table ip ctrkit (nft list table ip ctrkit)"
		hint="ctr-run -p 8085:80 (run the checker in the network namespace that is your containers' host)"
		return 1
	fi
	if ! port_open 8085; then
		why="nobody answers on 127.0.0.1:8085"
		hint="does ex5-web listen on the port the rule names? ctr-run exec ex5-web netstat -ltn"
		return 1
	fi
}

ex_5_2() {
	local said
	container ex5-broken || { hint=${hint:-"ctr-run -d --name ex5-broken -p 8086:80 busybox httpd -f -p 80"}; return 1; }
	if ! rules prerouting 8086 >/dev/null; then
		why="no prerouting DNAT rule for port 8086: publish it (-p 8086:80); only the output chain's rule should go"
		return 1
	fi
	if rules output 8086 >/dev/null; then
		why="the output chain still sends 127.0.0.1:8086 to the container"
		hint="nft -a list chain ip ctrkit output shows each rule's handle; nft delete rule ip ctrkit output handle N"
		return 1
	fi
	if port_open 8086; then
		why="127.0.0.1:8086 still answers"
		return 1
	fi
	said=$(cat "$answers/5.2" 2>/dev/null)
	if [[ ${said,,} != *refused* ]]; then
		why="$answers/5.2 should hold what wget http://127.0.0.1:8086/ says now, and it does not say refused"
		hint="busybox wget -qO- http://127.0.0.1:8086/ 2>$answers/5.2: no rule, no listener, so the kernel answers with a reset"
		return 1
	fi
}
