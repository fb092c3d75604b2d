#!/usr/bin/env bats
# Lifecycle safety: what a kill -9 leaves is found again (leases) and
# collected by gc, names and PIDs that can be trusted, restart policies,
# pause, bounded logs. Every kill happens at a recorded point: the test
# waits until the lease or record exists, then kills.
# shellcheck disable=SC2154,SC2016 # stderr is set by bats' run; $VARS for the container

load helpers

setup_file() {
	load helpers
	requires root overlay busybox
	export CTRKIT_ROOT=$BATS_FILE_TMPDIR/root CTRKIT_STATE=$BATS_FILE_TMPDIR/state
	make_host_netns
	import_busybox
}

teardown_file() {
	ip netns del "$HOSTNS" 2>/dev/null || true
}

setup() {
	PATH=$BATS_FILE_TMPDIR/bin:$PATH
}

teardown() {
	remove_host_containers
	if [ -n "${VICTIM:-}" ]; then kill "$VICTIM" 2>/dev/null || true; fi
}

# state_of ID: the STATUS column of ctr-run ps -a for ID.
state_of() {
	host ctr-run ps -a | awk -v id="$1" '$1 == id {sub(/.* ago +/, ""); sub(/ +[^ ]+$/, ""); print}'
}

@test "ctr-run --name N ×4 at once [exactly one wins; the others: Conflict, 125]" {
	local n i wins=0 conflicts=0
	n=$(safename)
	for i in 1 2 3 4; do
		(
			st=0
			host ctr-run -d --name "$n" --network none busybox sleep 1000 >"$BATS_TEST_TMPDIR/out$i" 2>"$BATS_TEST_TMPDIR/err$i" 3>&- || st=$?
			echo "$st" >"$BATS_TEST_TMPDIR/st$i"
		) &
	done
	wait
	for i in 1 2 3 4; do
		case $(cat "$BATS_TEST_TMPDIR/st$i") in
		0) wins=$((wins + 1)) ;;
		125)
			grep -q "Conflict. The container name \"/$n\" is already in use by container \"[0-9a-f]\{12\}\"" "$BATS_TEST_TMPDIR/err$i" &&
				conflicts=$((conflicts + 1))
			;;
		esac
	done
	cat "$BATS_TEST_TMPDIR"/err*
	assert_equal "$wins $conflicts" "1 3"
	run_tool host ctr-run rm -f "$n"
}

@test "ctr-run stop/kill/rm -f [a stale record whose PID now names another process: never signalled]" {
	run_tool host ctr-run -d --network none busybox sleep 1000
	local id=$output pid
	pid=$(cat "$CTRKIT_STATE/$id/pid")
	# A crash: the supervisor and the container die together.
	kill -KILL "$(cut -d@ -f1 "$CTRKIT_STATE/$id/supervisor")" "$pid"
	wait_for test ! -e "/proc/$pid"
	# The PID is reused by an unrelated process (one we started).
	sleep 1000 3>&- &
	VICTIM=$!
	echo "$VICTIM" >"$CTRKIT_STATE/$id/pid"
	echo "$VICTIM@1" >"$CTRKIT_STATE/$id/process"
	run_tool host ctr-run ps -a
	refute_output --partial running
	run_tool --separate-stderr --status 1 host ctr-run kill "$id"
	assert_stderr_contains 'not running'
	run_tool host ctr-run stop -t 1 "$id"
	run_tool host ctr-run rm -f "$id"
	# Without the start time, and with no supervisor, a PID is not trusted either.
	run_tool host ctr-run -d --network none busybox sleep 1000
	id=$output
	pid=$(cat "$CTRKIT_STATE/$id/pid")
	kill -KILL "$(cut -d@ -f1 "$CTRKIT_STATE/$id/supervisor")" "$pid"
	wait_for test ! -e "/proc/$pid"
	echo "$VICTIM" >"$CTRKIT_STATE/$id/pid"
	rm "$CTRKIT_STATE/$id/process"
	run_tool host ctr-run rm -f "$id"
	run_tool test -d "/proc/$VICTIM"
	run_tool grep -q '^State:.*S (sleeping)' "/proc/$VICTIM/status"
}

@test "kill -9 ctr-run while it creates; ctr-run gc [dead, not created; its cgroup, address and mount removed]" {
	# A copy of the commands whose net-bridge stops after it has attached,
	# so ctr-run is killed with every stage's record written.
	local slow=$BATS_TEST_TMPDIR/slow name before id
	mkdir "$slow"
	cp "$BIN/ctr-run" "$slow/"
	for name in img-pull fs-layer cg-limit ns-enter; do ln -s "$BIN/$name" "$slow/$name"; done
	printf '#!/bin/sh\n"%s/net-bridge" "$@" || exit\necho $$ >"%s/attached"\nexec sleep 1000\n' "$BIN" "$BATS_TEST_TMPDIR" >"$slow/net-bridge"
	chmod +x "$slow/net-bridge"
	before=$(leak_check --list | grep -v '^state ')
	host "$slow/ctr-run" -d --name "$(safename)" busybox sleep 1000 >/dev/null 2>&1 3>&- &
	local ctr=$!
	wait_for test -s "$BATS_TEST_TMPDIR/attached"
	id=$(basename "$(dirname "$(ls "$CTRKIT_STATE"/*/creator)")")
	run_tool cat "$CTRKIT_STATE/$id/resources.json"
	assert_output --partial cg-limit
	assert_output --partial net-bridge
	assert_equal "$(state_of "$id")" creating
	kill -KILL "$ctr" "$(cat "$BATS_TEST_TMPDIR/attached")"
	wait "$ctr" || true
	assert_equal "$(state_of "$id")" "dead (create interrupted: ctr-run gc removes it)"
	run_tool --separate-stderr host ctr-run gc --dry-run
	assert_output "$id"
	assert_stderr_contains "would remove $id"
	run_tool test -d "$CTRKIT_STATE/$id"
	run_tool --separate-stderr host ctr-run gc
	assert_output "$id"
	assert_stderr_contains "killed while creating it"
	run_tool test ! -e "$CTRKIT_STATE/$id"
	assert_equal "$(leak_check --list | grep -v '^state ')" "$before"
}

@test "ctr-run rm after a removal stopped half-way [each undo runs again; what is gone only loses its record]" {
	local id before
	before=$(leak_check --list | grep -v '^state ')
	id=$(host ctr-run create --network none -m 32m busybox true)
	# The removal got as far as the root filesystem and the cgroup, then
	# was killed: their records are still there.
	host fs-layer rm "$id"
	host cg-limit rm "$id"
	run_tool jq -r '.[].stage' "$CTRKIT_STATE/$id/resources.json"
	assert_line fs-layer
	run_tool --separate-stderr host ctr-run rm "$id"
	run_tool test ! -e "$CTRKIT_STATE/$id"
	assert_equal "$(leak_check --list | grep -v '^state ')" "$before"
}

@test "kill -9 the supervisor; ctr-run gc [a running container is kept and listed; rm -f removes it]" {
	run_tool host ctr-run -d --network none busybox sleep 1000
	local id=$output
	kill -KILL "$(cut -d@ -f1 "$CTRKIT_STATE/$id/supervisor")"
	run_tool --separate-stderr host ctr-run gc
	assert_output ''
	assert_stderr_contains "kept $id"
	assert_equal "$(state_of "$id")" "running (supervisor gone)"
	run_tool host ctr-run rm -f "$id"
	run_tool test ! -e "$CTRKIT_STATE/$id"
}

@test "kill -9 fs-layer unpack; fs-layer gc [temp dirs, unused layers, short links]" {
	local many=$BATS_TEST_TMPDIR/many d chain
	for d in $(seq 12); do mkdir -p "$many/d$d" && (cd "$many/d$d" && seq 1000 | xargs touch); done
	tar -C "$many" -cf "$many.tar" .
	img-pull import "$many.tar" many:1 >/dev/null 2>&1
	fs-layer unpack many:1 >/dev/null 3>&- &
	local pid=$!
	wait_for sh -c "grep -qs layers/tmp/ '$CTRKIT_ROOT'/leases/*.json"
	wait_for compgen -G "$CTRKIT_ROOT/layers/tmp/*.*/diff/d1"
	kill -KILL "$pid"
	wait "$pid" || true
	run_tool fs-layer gc --dry-run
	assert_line --regexp '^would remove layers/tmp/[0-9a-f]{12}\.[0-9a-f]{12}: an unpack that was killed$'
	assert_line --regexp '^would remove leases/[0-9a-f]{12}\.json: the lease of fs-layer [0-9]+@[0-9]+, which no longer runs$'
	run_tool fs-layer gc
	assert_line --regexp '^removed layers/tmp/'
	run_tool find "$CTRKIT_ROOT/layers/tmp" "$CTRKIT_ROOT/leases" -mindepth 1
	assert_output ''
	# Unpacked, then its image removed: the layer goes at the next gc.
	run_tool fs-layer unpack many:1
	chain=$(basename "$(dirname "$output")")
	run_tool img-pull rm many:1
	run_tool fs-layer gc
	assert_line "removed layers/$chain: no image or container uses it"
	run_tool test ! -e "$CTRKIT_ROOT/layers/$chain"
	# A missing short link is made again, by mount and by gc; a dangling one goes.
	run_tool fs-layer unpack busybox
	chain=$(basename "$(dirname "$output")")
	rm "$CTRKIT_ROOT/layers/l/${chain:0:12}"
	run_tool --separate-stderr fs-layer mount --name "$(safename)" busybox
	assert_stderr_contains "was missing or wrong: made it again"
	run_tool bash -o pipefail -c "fs-layer ls | awk '\$1 == \"$(safename)\" {print \$4}'"
	assert_output overlay
	run_tool fs-layer rm "$(safename)"
	rm "$CTRKIT_ROOT/layers/l/${chain:0:12}"
	ln -s ../0000/diff "$CTRKIT_ROOT/layers/l/000000000000"
	run_tool fs-layer gc
	assert_line "repaired layers/l/${chain:0:12}: the short link overlay mounts use was missing"
	assert_line "removed layers/l/000000000000: a short link to a layer that is gone"
	run_tool readlink "$CTRKIT_ROOT/layers/l/${chain:0:12}"
	assert_output "../$chain/diff"
}

@test "kill -9 img-build during RUN; img-pull gc; fs-layer gc [its temporary tag, RUN container and heredoc script go]" {
	local ctx=$BATS_TEST_TMPDIR/ctx
	mkdir "$ctx"
	# A #! heredoc: its script is a file, bound into the container.
	printf 'FROM busybox\nRUN <<EOF\n#!/bin/sh\nsleep 1000\nEOF\n' >"$ctx/Dockerfile"
	setsid img-build -t killed:1 "$ctx" >/dev/null 2>&1 3>&- &
	local pid=$!
	wait_for sh -c "grep -qs '\"container:ckb-' '$CTRKIT_ROOT'/leases/*.json"
	wait_for grep -q 'ctrkit-build:' "$CTRKIT_ROOT/oci/index.json"
	wait_for compgen -G "$CTRKIT_ROOT/containers/ckb-*"
	kill -KILL -- "-$pid" # the build's process group: img-build, ns-enter, the RUN
	wait "$pid" || true
	run_tool img-pull gc --dry-run
	assert_line --regexp '^would untag localhost/ctrkit-build:[0-9a-f]{12}: the img-build that made it no longer runs$'
	run_tool img-pull gc
	assert_line --regexp '^untagged localhost/ctrkit-build:[0-9a-f]{12}: '
	refute grep -q ctrkit-build "$CTRKIT_ROOT/oci/index.json"
	run_tool fs-layer gc
	assert_line --regexp '^removed container ckb-[0-9a-f]{12}: the img-build that ran it no longer runs$'
	run_tool find "$CTRKIT_ROOT/containers" "$CTRKIT_ROOT/leases" "$CTRKIT_ROOT/oci.tmp" -mindepth 1
	assert_output ''
	run_tool find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'ckb-heredoc-*'
	assert_output ''
	run_tool bash -c "findmnt -rn -o TARGET | grep -F '$CTRKIT_STATE/' || true"
	assert_output ''
	# The cgroup ns-enter made for the RUN step (if the kill came after it)
	# went with the container.
	run_tool cg-limit ls
	refute_output --partial ckb-
}

@test "img-build ×5 at once, then cached builds [every image's layers belong together]" {
	local ctx=$BATS_TEST_TMPDIR/ctx i pids=()
	mkdir "$ctx"
	printf 'FROM busybox\nRUN cat /proc/sys/kernel/random/uuid > /a\nARG FAIL=0\nRUN cp /a /b && [ "$FAIL" = 0 ]\n' >"$ctx/Dockerfile"
	for i in 1 2 3 4 5; do
		img-build -t "cb:$i" "$ctx" >/dev/null 2>"$BATS_TEST_TMPDIR/err$i" 3>&- &
		pids+=($!)
	done
	# Each succeeds: their RUN steps' cgroups are made and removed beside
	# each other's (cg-limit makes /ctrkit, rm removes it once empty).
	for i in 1 2 3 4 5; do
		wait "${pids[i - 1]}" || fail "img-build -t cb:$i failed: $(cat "$BATS_TEST_TMPDIR/err$i")"
	done
	# Step 2 built again (its key now names another layer), step 3 failing:
	# a cached build must not put an old step 3 on the new step 2.
	run_tool ! img-build --no-cache --build-arg FAIL=1 "$ctx"
	run_tool img-build -t cb:6 "$ctx"
	for i in 1 2 3 4 5 6; do
		run_tool bash -o pipefail -c "img-pull --pull never cb:$i | fs-layer mount --name $(safename)-$i | ns-enter --pid --net -- sh -c 'cmp /a /b && cat /a'"
		fs-layer rm "$(safename)-$i"
		assert_output --regexp '^[0-9a-f-]{36}$'
	done
}

@test "ctr-run --restart on-failure:2 | always; stop [restarts as docker's; stop ends them]" {
	run_tool host ctr-run -d --network none --restart on-failure:2 busybox sh -c 'echo run; exit 3'
	local id=$output
	wait_for test ! -d "/proc/$(cut -d@ -f1 "$CTRKIT_STATE/$id/supervisor")"
	run_tool host ctr-run logs "$id"
	assert_output "$(printf 'run\nrun\nrun')"
	assert_equal "$(state_of "$id")" "exited (3), 2 restarts"
	run_tool host ctr-run rm "$id"

	run_tool host ctr-run -d --network none --restart always busybox sh -c 'echo run; sleep 0.1'
	id=$output
	wait_for sh -c "[ \"\$(cat '$CTRKIT_STATE/$id/restarts')\" -ge 2 ]"
	run_tool host ctr-run stop -t 1 "$id"
	wait_for test ! -d "/proc/$(cut -d@ -f1 "$CTRKIT_STATE/$id/supervisor")"
	local n
	n=$(cat "$CTRKIT_STATE/$id/restarts")
	sleep 0.5
	assert_equal "$(cat "$CTRKIT_STATE/$id/restarts")" "$n"
	run_tool host ctr-run rm "$id"

	run_tool --separate-stderr --status 125 host ctr-run --restart sometimes busybox true
	assert_stderr_contains 'want no, on-failure[:N], always or unless-stopped'
	run_tool --separate-stderr --status 125 host ctr-run --rm --restart always busybox true
	assert_stderr_contains 'conflicting options: --restart and --rm'
}

@test "ctr-run pause; unpause; start; restart [frozen: its output stops; ps says paused; an exited container runs again]" {
	run_tool host ctr-run -d --network none busybox sh -c 'while :; do echo x >> /tick; usleep 20000; done'
	local id=$output ticks=$CTRKIT_ROOT/containers/$output/upper/tick a b
	wait_for test -s "$ticks"
	run_tool host ctr-run pause "$id"
	assert_equal "$(state_of "$id")" paused
	a=$(wc -l <"$ticks")
	sleep 0.3
	b=$(wc -l <"$ticks")
	assert_equal "$b" "$a"
	run_tool host ctr-run unpause "$id"
	assert_equal "$(state_of "$id")" running
	wait_for sh -c "[ \"\$(wc -l <'$ticks')\" -gt $b ]"
	# A paused container still stops: its signal lands once thawed.
	run_tool host ctr-run pause "$id"
	run_tool host ctr-run stop -t 1 "$id"
	assert_equal "$(state_of "$id")" "exited (137)"
	# As docker's: start runs an exited container again; restart stops it
	# and starts it, a new process in the same cgroup and layers.
	run_tool host ctr-run start "$id"
	assert_equal "$(state_of "$id")" running
	local pid
	pid=$(cat "$CTRKIT_STATE/$id/pid")
	run_tool host ctr-run restart -t 1 "$id"
	assert_equal "$(state_of "$id")" running
	[ "$(cat "$CTRKIT_STATE/$id/pid")" != "$pid" ] || fail "restart kept the old process"
	run_tool host ctr-run rm -f "$id"
}

@test "ctr-run -d --log-opt max-size=100k --log-opt max-file=3 [a noisy container's log stays bounded; logs -f reads across rotations]" {
	run_tool host ctr-run -d --network none --log-opt max-size=100k --log-opt max-file=3 busybox sh -c 'yes 0123456789abcdef | head -c 5000000; echo; echo END'
	local id=$output total
	wait_for test ! -d "/proc/$(cut -d@ -f1 "$CTRKIT_STATE/$id/supervisor")"
	run_tool ls "$CTRKIT_STATE/$id"
	assert_line log
	assert_line log.1
	assert_line log.2
	refute_line log.3
	total=$(cat "$CTRKIT_STATE/$id"/log* | wc -c)
	[ "$total" -le $((3 * (100 + 64) * 1024)) ] || fail "the logs hold $total bytes"
	run_tool bash -o pipefail -c "host ctr-run logs $id | tail -n 1"
	assert_output END
	# The log is docker's json-file format: stderr apart, times kept.
	run_tool host ctr-run -d --network none busybox sh -c 'echo out; echo err >&2; sleep 0.5'
	local two=$output
	wait_for test ! -d "/proc/$(cut -d@ -f1 "$CTRKIT_STATE/$two/supervisor")"
	run_tool --separate-stderr host ctr-run logs "$two"
	assert_output out
	assert_equal "$stderr" err
	run_tool host ctr-run logs -t "$two"
	assert_line --regexp '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z out$'
	assert_equal "$(jq -r .stream "$CTRKIT_STATE/$two/log" | sort | tr '\n' ' ')" "stderr stdout "
	run_tool host ctr-run rm "$two"
	run_tool host ctr-run rm "$id"
	# Slow output over many small files: logs -f misses no line.
	run_tool host ctr-run -d --network none --log-opt max-size=4k --log-opt max-file=50 busybox sh -c 'i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo "line $i ........................................"; usleep 2000; done'
	id=$output
	run_tool host ctr-run logs -f "$id"
	assert_equal "${#lines[@]}" 600
	assert_line --index 599 --partial "line 600 "
	run_tool bash -c "ls '$CTRKIT_STATE/$id' | grep -c '^log'"
	[ "$output" -gt 5 ] || fail "only $output log files: no rotation happened"
	run_tool bash -o pipefail -c "host ctr-run inspect $id | jq -c .meta.log"
	assert_output '{"maxSize":4096,"maxFiles":50}'
	run_tool host ctr-run create --network none busybox true
	run_tool bash -o pipefail -c "host ctr-run inspect $output | jq -c .meta.log"
	assert_output '{"maxSize":20971520,"maxFiles":5}'
}

@test "ctr-run -d keeps one small process per container [ns-enter leaves; the supervisor reaps the container: its status, a signal's, its last line]" {
	run_tool host ctr-run -d --network none busybox sh -c 'read x </dev/null; echo started; sleep 1000'
	local id=$output sup pid
	sup=$(cut -d@ -f1 "$CTRKIT_STATE/$id/supervisor")
	pid=$(cat "$CTRKIT_STATE/$id/pid")
	# The container's process is the supervisor's own child: no ns-enter
	# (or anything else) between them, and the supervisor is the small binary.
	assert_equal "$(awk '{print $4}' "/proc/$pid/stat")" "$sup"
	assert_equal "$(basename "$(readlink "/proc/$sup/exe")")" ctr-run-supervise
	run_tool pgrep -P "$sup"
	assert_output "$pid"
	run_tool host ctr-run kill -s KILL "$id"
	wait_for test -e "$CTRKIT_STATE/$id/exit"
	assert_equal "$(state_of "$id")" "exited (137)"
	run_tool host ctr-run logs "$id"
	assert_output started
	# An exit status of its own, and a last line without a newline.
	run_tool host ctr-run -d --network none busybox sh -c 'printf last; sleep 0.5; exit 3'
	id=$output
	wait_for test -e "$CTRKIT_STATE/$id/exit"
	assert_equal "$(state_of "$id")" "exited (3)"
	run_tool host ctr-run logs "$id"
	assert_output last
}
