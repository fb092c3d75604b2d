#!/usr/bin/env bats
# cg-limit: each limit, observed while the kernel enforces it, on this
# host's cgroup layout (v2, v1 or hybrid).  Tolerances are wide: these
# check behaviour, not speed.  The same checks run on real cgroup v2 and v1
# kernels in a VM: make test-cgroups (scripts/vm-cg-limit.sh).

load helpers

setup() {
	requires root
	name=$(safename)
}

teardown() {
	local pid cg
	for pid in ${busy_pids-}; do kill "$pid" 2>/dev/null || true; done
	for cg in "$name" ${more_cgroups-}; do cg-limit rm -f "$cg" 2>/dev/null || true; done
}

# json FIELD: the first number "FIELD": N in the JSON on stdin.
json() { jq -r "[.. | objects | .$1? // empty][0]"; }

@test "cg-limit info [the host's mode and where each controller is]" {
	run_tool cg-limit info --format json
	mode=$(jq -r .mode <<<"$output")
	case $(stat -f -c %T /sys/fs/cgroup) in
	cgroup2fs) assert_equal "$mode" v2 ;;
	*) [[ $mode == v1 || $mode == hybrid ]] ;;
	esac
	run_tool cg-limit info
	assert_output --partial "--memory"
}

@test "cg-limit run --memory 32m dd bs=64M [oom kill, exit 137]" {
	run_tool --status 137 --separate-stderr cg-limit run -m 32m -- dd if=/dev/zero of=/dev/null bs=64M count=1
	assert_stderr_contains "OOM killer ended 1 process"
	# stats of a cgroup that outlives the kill counts it too
	run_tool cg-limit create "$name" -m 32m
	run_tool --status 137 sh -c "cg-limit add $name \$\$ && exec dd if=/dev/zero of=/dev/null bs=64M count=1"
	run_tool cg-limit stats "$name" --format json
	[ "$(json oom_kills <<<"$output")" -ge 1 ]
}

@test "cg-limit run --memory 32m --memory-swap [swap makes the difference]" {
	[ "$(awk '/^SwapTotal/ { print $2 }' /proc/meminfo)" -gt 0 ] || skip "this host has no swap: nothing to page out"
	# No swap: killed. 96M of memory+swap: the 48M allocation pages out and succeeds.
	run_tool --status 137 cg-limit run -m 32m --memory-swap 32m -- dd if=/dev/zero of=/dev/null bs=48M count=1
	run_tool cg-limit run -m 32m --memory-swap 96m -- dd if=/dev/zero of=/dev/null bs=48M count=1
}

@test "cg-limit update --memory 128m [a waiting allocation succeeds]" {
	run_tool cg-limit create "$name" -m 16m
	local go=$BATS_TEST_TMPDIR/go
	sh -c "cg-limit add $name \$\$ && while [ ! -e $go ]; do sleep 0.1; done; exec dd if=/dev/zero of=/dev/null bs=48M count=1 2>/dev/null" 3>&- &
	local pid=$!
	sleep 0.5
	run_tool cg-limit update "$name" -m 128m
	touch "$go"
	wait "$pid"
}

@test "cg-limit create --cpus 0.25 [a busy loop gets ~0.5 CPU-s in 2 s, throttled]" {
	run_tool cg-limit create "$name" --cpus 0.25
	run_tool --status 124 timeout 2 sh -c "cg-limit add $name \$\$ && exec sh -c 'while :; do :; done'"
	run_tool cg-limit stats "$name" --format json
	local used throttled
	used=$(json usage_usec <<<"$output")
	throttled=$(json nr_throttled <<<"$output")
	echo "used ${used}µs, throttled in $throttled periods"
	[ "$used" -ge 300000 ] && [ "$used" -le 750000 ]
	[ "$throttled" -gt 5 ]
}

@test "cg-limit create --cpu-shares 1024 / 256 --cpuset-cpus N [a contended CPU splits about 4:1]" {
	local cpu hi=$name-hi lo=$name-lo cg i u0_hi u0_lo u1_hi u1_lo ratio
	cpu=$(cut -d- -f2 /sys/devices/system/cpu/online | cut -d, -f1)
	more_cgroups="$hi $lo"
	run_tool cg-limit create "$hi" --cpu-shares 1024 --cpuset-cpus "$cpu"
	run_tool cg-limit create "$lo" --cpu-shares 256 --cpuset-cpus "$cpu"
	busy_pids=
	for cg in "$hi" "$lo"; do
		sh -c "cg-limit add $cg \$\$ && exec sh -c 'while :; do :; done'" 3>&- &
		busy_pids="$busy_pids $!"
	done
	# Both loops inside (one process each), then count from there.
	for i in $(seq 20); do
		[ "$(cg-limit stats "$hi" --format json | jq .pids.current)" = 1 ] &&
			[ "$(cg-limit stats "$lo" --format json | jq .pids.current)" = 1 ] && break
		sleep 0.1
	done
	cpu_usec() { cg-limit stats "$1" --format json | json usage_usec; }
	u0_hi=$(cpu_usec "$hi") u0_lo=$(cpu_usec "$lo")
	sleep 2
	u1_hi=$(cpu_usec "$hi") u1_lo=$(cpu_usec "$lo")
	for i in $busy_pids; do kill "$i" && wait "$i" 2>/dev/null || true; done
	busy_pids=
	echo "CPU $cpu, 2 s: shares 1024 used $((u1_hi - u0_hi))µs, shares 256 used $((u1_lo - u0_lo))µs"
	# Both ran (together about the one CPU's 2 s), split as the shares say.
	[ $((u1_hi - u0_hi + u1_lo - u0_lo)) -ge 800000 ]
	ratio=$(((u1_hi - u0_hi) * 100 / (u1_lo - u0_lo > 0 ? u1_lo - u0_lo : 1)))
	echo "ratio $((ratio / 100)).$(printf %02d $((ratio % 100)))"
	[ "$ratio" -ge 250 ] && [ "$ratio" -le 600 ]
}

@test "cg-limit run --cpuset-cpus [the allowed CPUs match]" {
	local last
	last=$(cut -d- -f2 /sys/devices/system/cpu/online | cut -d, -f1)
	run_tool cg-limit run --cpuset-cpus "$last" -- grep Cpus_allowed_list /proc/self/status
	assert_output --regexp "^Cpus_allowed_list:[[:space:]]+$last\$"
	run_tool --status 125 --separate-stderr cg-limit run --cpuset-cpus 4095 -- true
	assert_stderr_contains "--cpuset-cpus: CPU 4095 is not online"
}

@test "cg-limit --explain run [the command is born in the cgroup: no PID is moved]" {
	run_tool --separate-stderr cg-limit --explain run -m 32m -- cat /proc/self/cgroup
	assert_line --regexp '^([0-9]+:memory|0:):/ctrkit/ck-[0-9a-f]{12}$'
	# writing a PID into cgroup.procs waits for the cgroup lock's RCU grace
	# period; the gate moves itself (v1) or clone3 forks it inside (v2)
	refute_stderr_contains "cgroup.procs"
	assert_stderr_contains 'execve("cat")'
	if [ "$(cg-limit info --format json | jq -r .mode)" != v2 ]; then
		assert_stderr_contains 'write("tasks", "0")'
	fi
}

@test "cg-limit run --pids-limit 5 [forking past it fails]" {
	run_tool ! cg-limit run --pids-limit 5 -- sh -c 'for i in 1 2 3 4 5 6 7 8; do sleep 1 & done; wait'
	assert_output --regexp '[Ff]ork'
}

@test "cg-limit run --device-write-bps LOOP:1mb dd oflag=direct [~1 MB/s]" {
	command -v losetup >/dev/null || skip "needs losetup (util-linux)"
	local img=$BATS_TEST_TMPDIR/disk.img dev t0 t1 ms
	truncate -s 16M "$img"
	dev=$(losetup -f --show "$img") || skip "no loop device available"
	t0=$(date +%s%N)
	run cg-limit run --device-write-bps "$dev:1mb" -- dd if=/dev/zero of="$dev" bs=64k count=48 oflag=direct
	t1=$(date +%s%N)
	losetup -d "$dev"
	echo "$output"
	[ "$status" -eq 0 ]
	ms=$(((t1 - t0) / 1000000))
	echo "3 MiB in $ms ms"
	# 3 MiB at 1 MiB/s: about 3 s (the first second's budget is free); far
	# more than the few ms it takes unthrottled, far less than 30 s.
	[ "$ms" -ge 1500 ] && [ "$ms" -le 30000 ]
	run_tool --status 1 --separate-stderr cg-limit create "$name" --device-write-bps /dev/null:1mb
	assert_stderr_contains "--device-write-bps: /dev/null is not a block device"
}

@test "cg-limit freeze, thaw, kill [a counter stops, resumes, ends]" {
	run_tool cg-limit create "$name"
	local count=$BATS_TEST_TMPDIR/count a b c
	# The counter is written to a temporary file and renamed, so a reader
	# never finds it empty (a freeze may land between truncate and write).
	sh -c "cg-limit add $name \$\$ && i=0 && while :; do i=\$((i + 1)); echo \$i > $count.tmp && mv $count.tmp $count; sleep 0.05; done" 3>&- &
	local pid=$!
	sleep 0.5
	run_tool cg-limit freeze "$name"
	run_tool cg-limit stats "$name" --format json
	assert_equal "$(jq .frozen <<<"$output")" true
	a=$(cat "$count")
	sleep 0.5
	b=$(cat "$count")
	assert_equal "$b" "$a"
	run_tool cg-limit thaw "$name"
	sleep 0.5
	c=$(cat "$count")
	[ "$c" -gt "$b" ]
	run_tool cg-limit kill "$name"
	run wait "$pid"
	assert_equal "$status" 137
	# Every process is gone (a killed child may stay a zombie for a moment,
	# still counted in pids.current until its new parent reaps it).
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		run_tool cg-limit stats "$name" --format json
		[ "$(jq .pids.current <<<"$output")" != 0 ] || break
		sleep 0.2
	done
	assert_equal "$(jq .pids.current <<<"$output")" 0
}

@test "cg-limit rm -f of a frozen cgroup [its processes die, the cgroup goes]" {
	run_tool cg-limit create "$name"
	sh -c "cg-limit add $name \$\$ && exec sleep 300" 3>&- &
	local pid=$!
	busy_pids=$pid
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		[ "$(cg-limit stats "$name" --format json | jq .pids.current)" = 1 ] && break
		sleep 0.1
	done
	run_tool cg-limit freeze "$name"
	# A frozen process takes no signal until it is thawed: rm -f must thaw
	# after killing, or the kill waits for ever and rmdir fails (EBUSY).
	run_tool cg-limit rm -f "$name"
	run wait "$pid"
	assert_equal "$status" 137
	run_tool cg-limit ls
	refute_output --partial "$name"
}

@test "ns-enter spec | cg-limit -m 64m | ns-enter [the container starts inside]" {
	run_tool bash -o pipefail -c "ns-enter spec -- cat /proc/self/cgroup | cg-limit -m 64m --pids-limit 50 --name $name | tee $BATS_TEST_TMPDIR/config.json | ns-enter"
	assert_line --regexp "^[0-9]+:memory:/ctrkit/$name\$"
	local doc=$BATS_TEST_TMPDIR/config.json
	assert_equal "$(jq -r .linux.cgroupsPath "$doc")" "/ctrkit/$name"
	assert_equal "$(jq -r .linux.resources.memory.limit "$doc")" 67108864
	assert_equal "$(jq -r '.annotations["ctrkit.resources"] | fromjson | .[0].undo | join(" ")' "$doc")" "cg-limit rm $name"
	run_tool cg-limit rm "$name"
	# The record of what to undo is the container's; the whole container's
	# cleanup (ctr-run rm) removes it: here, the test does.
	rm -r "${CTRKIT_STATE:?}/$(jq -r '.annotations["ctrkit.id"]' "$doc")"
}

@test "cg-limit --pid PID --hold 3 [a runtime's one call: made and joined, then removed on rm, kept on end of file]" {
	local hold=$BATS_TEST_TMPDIR/hold doc=$BATS_TEST_TMPDIR/config.json cg
	sleep 1000 &
	busy_pids=$!
	mkfifo "$hold"
	ns-enter spec -- true >"$BATS_TEST_TMPDIR/in.json"
	cg-limit --name "$name" -m 64m --pid "$busy_pids" --hold 3 <"$BATS_TEST_TMPDIR/in.json" >"$doc" 3<"$hold" &
	cg=$!
	exec 4>"$hold"
	# The spec (stdout closed after it) means: made, and the process in it.
	local i
	for i in $(seq 100); do jq -e .linux.cgroupsPath "$doc" >/dev/null 2>&1 && break || sleep 0.05; done
	assert_equal "$(jq -r .linux.cgroupsPath "$doc")" "/ctrkit/$name"
	grep -qx "$busy_pids" /sys/fs/cgroup/pids/ctrkit/"$name"/cgroup.procs 2>/dev/null ||
		grep -qx "$busy_pids" /sys/fs/cgroup/ctrkit/"$name"/cgroup.procs
	kill -0 "$cg" # holding
	echo rm >&4
	exec 4>&-
	wait "$cg"
	run cg-limit ls
	refute_output --partial "$name"
	run kill -0 "$busy_pids" # rm -f's work: what was left in it ended
	assert_failure
	# End of file without rm: the runtime left (a detached container's):
	# the cgroup stays.
	sleep 1000 &
	busy_pids+=" $!"
	cg-limit --name "$name" -m 64m --pid $! --hold 3 <"$BATS_TEST_TMPDIR/in.json" >"$doc" 3</dev/null
	run cg-limit ls
	assert_output --partial "$name"
	run_tool cg-limit rm -f "$name"
	rm -r "${CTRKIT_STATE:?}/$(jq -r '.annotations["ctrkit.id"]' "$doc")" 2>/dev/null || true
}

@test "cg-limit killed while it makes the cgroup [recorded first: rm undoes whatever it got to]" {
	local in=$BATS_TEST_TMPDIR/in.json m d dir=$CTRKIT_STATE/$name
	ns-enter spec -- true | jq --arg id "$name" '.annotations["ctrkit.id"] = $id' >"$in"
	# SIGKILL at the first mkdir of the cgroup (nothing made), then, on v1,
	# at the memory hierarchy's (some made): each time the undo it
	# recorded, cg-limit rm NAME as gc runs it, leaves nothing.
	local -a at=(first)
	[ ! -d /sys/fs/cgroup/memory ] || at+=(/sys/fs/cgroup/memory/)
	for m in "${at[@]}"; do
		local -a paths=()
		for d in /sys/fs/cgroup/ /sys/fs/cgroup/*/; do
			[ "$m" = first ] || [ "$d" = "$m" ] || continue
			paths+=(-P "${d}ctrkit/$name")
		done
		run strace -f -qq -o /dev/null -e trace=mkdir,mkdirat -e inject=mkdir,mkdirat:signal=KILL "${paths[@]}" \
			cg-limit -m 64m <"$in"
		assert_equal "$status" 137
		assert_equal "$(jq -r '.[].undo | join(" ")' "$dir/resources.json")" "cg-limit rm $name"
		run_tool cg-limit rm "$name"
		[ ! -e "$dir" ]
		[ -z "$(find /sys/fs/cgroup -maxdepth 3 -name "$name")" ]
	done
}

@test "cg-limit create -m 12x [names the flag, makes nothing]" {
	run_tool --status 1 --separate-stderr cg-limit create "$name" -m 12x
	assert_stderr_contains "--memory: invalid size \"12x\""
	run_tool --status 1 --separate-stderr cg-limit create "$name" --cpuset-cpus 0 --cpu-shares 1
	assert_stderr_contains "--cpu-shares 1"
	run_tool cg-limit ls
	refute_output --partial "$name"
	[ -z "$(find /sys/fs/cgroup -maxdepth 4 -name "$name")" ]
}
