# shellcheck shell=bash disable=SC2034,SC2154 # why, hint: read by scripts/check; cid, cpid, config...: set by it
# Chapter 10, the daemon: the Engine API on a Unix socket.
exercise 10.1 'ctr-run serve answers on docker.sock in the state dir'
exercise 10.2 'the container ex10, made through the API, runs'

api() { curl -sf --max-time 5 --unix-socket "$state/docker.sock" "http://docker$1"; }

ex_10_1() {
	if [ ! -S "$state/docker.sock" ]; then
		why="no socket $state/docker.sock"
		hint="ctr-run serve & (it listens there unless told otherwise)"
		return 1
	fi
	if [ "$(api /_ping)" != OK ]; then
		why="GET /_ping on $state/docker.sock does not answer OK"
		hint="is ctr-run serve still running?"
		return 1
	fi
}

ex_10_2() {
	ex_10_1 || return 1
	local state_of
	state_of=$(api /containers/json | jq -r '.[] | select(.Names | index("/ex10")) | .State')
	if [ "$state_of" != running ]; then
		why="the API lists no running container /ex10"
		hint="POST /containers/create?name=ex10 with {\"Image\": \"busybox\", \"Cmd\": [...]}, then POST /containers/ex10/start"
		return 1
	fi
}
