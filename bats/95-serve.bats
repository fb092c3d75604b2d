#!/usr/bin/env bats
# ctr-run serve: the real docker client (Debian's docker.io, API 1.41) and
# docker-py talk to ctrkit through the Docker Engine API on a Unix socket.
# The daemon, the registry and every container run inside a network
# namespace this file makes as the "host"; the socket is a file, so the
# clients reach it from anywhere. The daemon is stopped by its PID.

load helpers
load img-pull

setup_file() {
	load helpers
	load img-pull
	[ "$(id -u)" -eq 0 ] || return 0 # the tests skip themselves
	[ -x /usr/bin/docker ] || return 0
	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root CTRKIT_STATE=$BATS_FILE_TMPDIR/state
	make_host_netns
	import_busybox
	# `docker` is Debian's client (API 1.41), whatever else is on PATH.
	printf '#!/bin/sh\nexec /usr/bin/docker "$@"\n' >"$BATS_FILE_TMPDIR/bin/docker"
	# api METHOD PATH [BODY]: the raw request, as the docs' curl examples.
	cat >"$BATS_FILE_TMPDIR/bin/api" <<-'EOF'
		#!/bin/sh
		exec curl -sS --unix-socket "$SOCK" -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} -w '\n%{http_code}\n' "http://x$2"
	EOF
	chmod +x "$BATS_FILE_TMPDIR/bin/docker" "$BATS_FILE_TMPDIR/bin/api"
	export SOCK=$BATS_FILE_TMPDIR/docker.sock DOCKER_HOST=unix://$BATS_FILE_TMPDIR/docker.sock
	"$BATS_FILE_TMPDIR/bin/host" "$BIN/ctr-run" serve --explain --socket "$SOCK" \
		>"$BATS_FILE_TMPDIR/serve.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/serve.pid"
	local i
	for ((i = 0; i < 100; i++)); do
		curl -fsS --unix-socket "$SOCK" http://x/_ping >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	cat "$BATS_FILE_TMPDIR/serve.log" >&2
	return 1
}

teardown_file() {
	load img-pull
	local pid id
	[ -n "${HOSTNS-}" ] || return 0
	for id in $(ctr-run ps -a 2>/dev/null | awk 'NR > 1 {print $1}'); do
		"$BATS_FILE_TMPDIR/bin/host" ctr-run rm -f "$id" >/dev/null 2>&1 || true
	done
	pid=$(cat "$BATS_FILE_TMPDIR/serve.pid" 2>/dev/null) || true
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	stop_registry
	ip netns del "$HOSTNS" 2>/dev/null || true
}

setup() {
	requires root overlay busybox
	[ -x /usr/bin/docker ] || skip "needs the docker client (apt-get install docker.io)"
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
}

teardown() {
	local id
	for id in $(ctr-run ps -a 2>/dev/null | awk 'NR > 1 {print $1}'); do
		host ctr-run rm -f "$id" >/dev/null 2>&1 || true
	done
}

@test "docker version/info/_ping; errors as the Engine API gives them (404, 400, 409)" {
	run_tool /usr/bin/docker version --format '{{.Client.APIVersion}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}'
	assert_output "1.41 1.43 1.24"
	run_tool /usr/bin/docker info --format '{{.DockerRootDir}} {{.Images}}'
	assert_output "$CTRKIT_ROOT 1"
	run_tool api GET /_ping
	assert_output $'OK\n200'
	run_tool api GET /v1.41/no/such/endpoint
	assert_line --index 1 404
	assert_output --partial '"message":"page not found'
	run_tool api GET /v1.99/version
	assert_line --index 1 400
	assert_output --partial 'too new'
	run_tool api POST /v1.41/containers/create '{"Image": 5}'
	assert_line --index 1 400
	assert_output --partial 'field \"Image\"'
	run_tool api POST /v1.41/containers/create '{"Image": "busybox", '
	assert_line --index 1 400
	run_tool api GET /v1.41/containers/nosuch/json
	assert_line --index 1 404
	run_tool api DELETE /v1.41/images/nosuch
	assert_line --index 1 404
	run_tool --status 1 /usr/bin/docker rm nosuch
	assert_output --partial 'No such container'
	# TCP only on a loopback address: the API has no TLS and no login.
	run_tool ! host ctr-run serve --tcp 0.0.0.0:2375 --socket "$BATS_TEST_TMPDIR/tcp.sock"
	assert_output --partial 'only a loopback address'
	# The newer client negotiates down to the daemon's version.
	if [ -x /usr/local/bin/docker ]; then
		run_tool /usr/local/bin/docker version --format '{{.Client.APIVersion}}'
		assert_output 1.43
		run_tool /usr/local/bin/docker run --rm --network none busybox echo new-client
		assert_output new-client
	fi
}

@test "docker run: output, stdin, -e -w -u --entrypoint, -v, exit codes 0/3/125/126/127" {
	run_tool --separate-stderr --status 3 docker run --rm --network none busybox sh -c 'echo out; echo err >&2; exit 3'
	assert_output out
	assert_stderr_contains err
	run_tool --status 127 docker run --rm --network none busybox no-such-program
	run_tool --status 126 docker run --rm --network none busybox /etc/passwd
	run_tool --status 125 docker run --rm --network no-such-net busybox true
	run_tool --status 125 docker run --rm --network none no-such-image true
	echo piped >"$BATS_TEST_TMPDIR/in"
	run_tool --stdin "$BATS_TEST_TMPDIR/in" docker run --rm -i --network none busybox cat
	assert_output piped
	run_tool docker run --rm --network none -u 1000:1000 -w /tmp -e FOO=bar --entrypoint sh busybox -c 'id -u; pwd; echo $FOO'
	assert_output $'1000\n/tmp\nbar'
	run_tool docker volume create ck-vol
	run_tool docker run --rm --network none -v ck-vol:/data busybox sh -c 'echo kept >/data/f'
	run_tool docker run --rm --network none -v ck-vol:/data busybox cat /data/f
	assert_output kept
	run_tool docker volume ls --format '{{.Name}}'
	assert_output ck-vol
	run_tool docker volume rm ck-vol
	# -t: the container gets a terminal; script(1) gives docker one.
	run_tool --status 5 script -qec "/usr/bin/docker run --rm -it --network none busybox sh -c 'tty; exit 5'" /dev/null
	assert_output --partial /dev/pts/0
	run_tool ctr-run ps -a
	assert_equal "${#lines[@]}" 1 # --rm removed them all
}

@test "docker run -d --name web -m 64m -p 8080:80; ps; exec; logs; port; top; stats; pause; restart; stop; start; rm (409 while running)" {
	run_tool docker run -d --name web -m 64m -p 8080:80 busybox httpd -f -v -p 80 -h /etc
	local id=$output
	run_tool docker ps --format '{{.ID}} {{.Names}} {{.Ports}}'
	assert_output "$id web 0.0.0.0:8080->80/tcp"
	run_tool ctr-run ps # the same container
	assert_line --regexp "^$id .* running +web$"
	run_tool host timeout 5 busybox wget -qO- http://127.0.0.1:8080/hostname
	assert_output "$id"
	assert_equal "$(cat /sys/fs/cgroup/memory/ctrkit/"$id"/memory.limit_in_bytes 2>/dev/null ||
		cat /sys/fs/cgroup/ctrkit/"$id"/memory.max)" 67108864
	run_tool --status 4 docker exec web sh -c 'hostname; exit 4'
	assert_output "$id"
	run_tool docker logs web
	assert_output --partial 'response:200'
	# httpd -v logs on stderr: docker logs keeps the streams apart, and -t
	# gives each line the time it was written (json-file records).
	run_tool bash -c "docker logs web 2>/dev/null"
	refute_output --partial 'response:200'
	run_tool bash -c "docker logs -t web 2>&1 >/dev/null"
	assert_line --regexp '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z .*response:200'
	run_tool docker port web
	assert_output "80/tcp -> 0.0.0.0:8080"
	run_tool docker top web
	assert_output --partial 'httpd -f'
	run_tool docker stats --no-stream --format '{{.Name}} {{.MemUsage}}' web
	assert_output --regexp '^web .* / 64MiB$'
	run_tool docker pause web
	run_tool docker inspect --format '{{.State.Status}} {{.State.Paused}}' web
	assert_output "paused true"
	run_tool docker unpause web
	# restart: the same container, its program run again (a new PID 1
	# process, the same cgroup, address and published port).
	local pid
	pid=$(docker inspect --format '{{.State.Pid}}' web)
	run_tool docker restart -t 1 web
	run_tool docker inspect --format '{{.State.Status}}' web
	assert_output running
	[ "$(docker inspect --format '{{.State.Pid}}' web)" != "$pid" ] || fail "restart kept the old process"
	run_tool host timeout 5 busybox wget -qO- http://127.0.0.1:8080/hostname
	assert_output "$id"
	run_tool --status 125 docker run --name web busybox true
	assert_output --partial 'already in use'
	run_tool --status 1 docker rm web
	assert_output --partial 'stop it first'
	run_tool docker stop -t 1 web
	run_tool docker ps -a --format '{{.Names}} {{.Status}}'
	assert_output --regexp '^web Exited \(137\)'
	# docker start of an exited container runs it again.
	run_tool docker start web
	run_tool host timeout 5 busybox wget -qO- http://127.0.0.1:8080/hostname
	assert_output "$id"
	run_tool docker stop -t 1 web
	run_tool docker rm web
	run_tool docker ps -aq
	assert_output ""
}

@test "a client that disconnects mid-attach leaves the container running" {
	run_tool --status 137 timeout -s KILL 2 /usr/bin/docker run --name att --network none busybox sh -c 'echo up; sleep 60'
	run_tool docker ps --format '{{.Names}} {{.State}}'
	assert_output "att running"
	run_tool docker logs att
	assert_output up
	run_tool docker kill att
	run_tool docker rm att
}

@test "docker pull, images, tag, inspect, rmi (409 while a container uses it), push, build" {
	host true # the registry listens inside the host's namespace, as the daemon does
	printf '#!/bin/sh\nexec host /usr/bin/docker-registry "$@"\n' >"$BATS_FILE_TMPDIR/bin/docker-registry"
	printf '#!/bin/sh\nexec host /usr/bin/curl "$@"\n' >"$BATS_FILE_TMPDIR/bin/curl"
	chmod +x "$BATS_FILE_TMPDIR/bin/docker-registry" "$BATS_FILE_TMPDIR/bin/curl"
	start_registry
	rm "$BATS_FILE_TMPDIR/bin/curl"
	run_tool host skopeo copy -q --dest-tls-verify=false "oci:$CTRKIT_ROOT/oci:docker.io/library/busybox:latest" "docker://$REGISTRY/ck/box:1"
	run_tool docker pull "$REGISTRY/ck/box:1"
	assert_output --partial "Downloaded newer image for $REGISTRY/ck/box:1"
	run_tool docker images --format '{{.Repository}}:{{.Tag}}'
	assert_line "$REGISTRY/ck/box:1"
	run_tool docker tag "$REGISTRY/ck/box:1" "$REGISTRY/ck/box:2"
	run_tool docker image inspect --format '{{index .RepoTags 0}} {{.Os}}' "$REGISTRY/ck/box:2"
	assert_output --partial linux
	run_tool docker push "$REGISTRY/ck/box:2"
	run_tool host skopeo inspect --tls-verify=false "docker://$REGISTRY/ck/box:2"
	run_tool docker create --name user --network none "$REGISTRY/ck/box:2" true
	run_tool --status 1 docker rmi "$REGISTRY/ck/box:2"
	assert_output --partial 'must force'
	run_tool docker rm user
	run_tool docker rmi "$REGISTRY/ck/box:2"
	assert_output --partial "Untagged: $REGISTRY/ck/box:2"
	mkdir -p "$BATS_TEST_TMPDIR/ctx"
	printf 'FROM busybox\nCOPY hello /hello\nCMD ["cat", "/hello"]\n' >"$BATS_TEST_TMPDIR/ctx/Dockerfile"
	echo built >"$BATS_TEST_TMPDIR/ctx/hello"
	run_tool docker build -t ck/built:1 "$BATS_TEST_TMPDIR/ctx"
	run_tool docker run --rm --network none ck/built:1
	assert_output built
}

@test "10 parallel docker run --rm all succeed and leave nothing" {
	local i st pids=()
	for i in $(seq 10); do
		/usr/bin/docker run --rm busybox sh -c "echo $i; exit $i" >"$BATS_TEST_TMPDIR/out$i" 2>&1 3>&- &
		pids[i]=$!
	done
	for i in $(seq 10); do
		st=0
		wait "${pids[i]}" || st=$?
		cat "$BATS_TEST_TMPDIR/out$i"
		assert_equal "$st" "$i"
		assert_equal "$(cat "$BATS_TEST_TMPDIR/out$i")" "$i"
	done
	run_tool ctr-run ps -a
	assert_equal "${#lines[@]}" 1
}

@test "docker-py: create, start, wait, logs, exec, remove, images.list" {
	/usr/bin/python3 -c 'import docker' 2>/dev/null || skip "needs docker-py (apt-get install python3-docker)"
	run_tool /usr/bin/python3 "$BATS_TEST_DIRNAME/95-serve.py" "$SOCK"
	assert_output ok
}
