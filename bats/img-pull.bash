# shellcheck shell=bash
# img-pull.bash — a real registry for the img-pull tests:  load img-pull
#
#   start_registry      the CNCF registry (Debian's docker-registry) on a free
#                       127.0.0.1 port, its storage in the test's temp dir;
#                       sets REGISTRY=127.0.0.1:PORT; foreign layers may
#                       point to URLs on 127.0.0.1
#   stop_registry       ends it, by its PID
#   start_faultproxy    bats/faultproxy.py in front of $REGISTRY, on a free
#                       127.0.0.1 port: sets PROXY=127.0.0.1:PORT and
#                       PROXY_DIR (faults.json: the faults; log: requests)
#   stop_faultproxy     ends it, by its PID
#   blob_gets DIGEST    how many GETs of blob DIGEST the proxy answered
#                       with content (200 or 206)

start_registry() {
	command -v docker-registry >/dev/null || skip "needs docker-registry (apt-get install docker-registry)"
	command -v skopeo >/dev/null || skip "needs skopeo (apt-get install skopeo)"
	local dir=${1:-$BATS_FILE_TMPDIR/registry} port
	mkdir -p "$dir"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$dir/config.yml" <<-YAML
		version: 0.1
		log: {level: error, accesslog: {disabled: true}}
		storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
		http: {addr: 127.0.0.1:$port}
		validation: {manifests: {urls: {allow: ['^http://127\.0\.0\.1:[0-9]+/']}}}
	YAML
	docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 3>&- &
	echo $! >"$dir/pid"
	REGISTRY=127.0.0.1:$port
	export REGISTRY
	local i
	for ((i = 0; i < 50; i++)); do
		curl -fsS "http://$REGISTRY/v2/" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	cat "$dir/log" >&2
	fail "docker-registry did not answer on $REGISTRY"
}

stop_registry() {
	local dir=${1:-$BATS_FILE_TMPDIR/registry}
	[ -s "$dir/pid" ] || return 0
	kill "$(cat "$dir/pid")" 2>/dev/null || true
	wait "$(cat "$dir/pid")" 2>/dev/null || true
	rm -f "$dir/pid"
}

start_faultproxy() {
	PROXY_DIR=${1:-$BATS_FILE_TMPDIR/proxy}
	mkdir -p "$PROXY_DIR"
	rm -f "$PROXY_DIR/port" "$PROXY_DIR/log" "$PROXY_DIR/faults.json"
	python3 "$BATS_TEST_DIRNAME/faultproxy.py" "$REGISTRY" "$PROXY_DIR" 2>"$PROXY_DIR/stderr" 3>&- &
	echo $! >"$PROXY_DIR/pid"
	local i
	for ((i = 0; i < 50; i++)); do
		[ -s "$PROXY_DIR/port" ] && break
		sleep 0.1
	done
	[ -s "$PROXY_DIR/port" ] || fail "faultproxy.py did not start: $(cat "$PROXY_DIR/stderr")"
	PROXY=127.0.0.1:$(cat "$PROXY_DIR/port")
	export PROXY PROXY_DIR
}

stop_faultproxy() {
	local dir=${1:-${PROXY_DIR:-$BATS_FILE_TMPDIR/proxy}}
	[ -s "$dir/pid" ] || return 0
	kill "$(cat "$dir/pid")" 2>/dev/null || true
	wait "$(cat "$dir/pid")" 2>/dev/null || true
	rm -f "$dir/pid"
}

blob_gets() {
	grep -c "^GET /v2/.*/blobs/$1 20[06] " "$PROXY_DIR/log" || true
}
