#!/usr/bin/env bats
# Live diagrams: ctr-run --diagram draws the run that really happened (from
# the explain lines every process writes), net-bridge show --format mermaid
# the live topology, and the chapters' diagrams are checked against fresh
# runs (scripts/gen-diagrams.sh --check, as make check-docs does). Every
# test runs inside a network namespace this file makes as the "host".

# shellcheck disable=SC2154 # stderr is set by bats' run
load helpers

setup_file() {
	load helpers
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
	host net-bridge rm --name "$(safename)" >/dev/null 2>&1 || true
}

# participants FILE: the participants a sequence diagram declares, by id.
participants() {
	awk '$1 == "participant" { printf "%s ", $2 }' "$1"
}

@test "ctr-run --rm --diagram FILE -p 8080:80 busybox sh -c 'exit 3' [every stage, the container and the kernel]" {
	requires root overlay busybox
	local d=$BATS_TEST_TMPDIR/run.mmd
	run_tool --separate-stderr --status 3 host ctr-run --rm --diagram "$d" -p 8080:80 busybox sh -c 'echo out; echo err >&2; exit 3'
	# The container's output is as without --diagram; the explain lines
	# the diagram is drawn from are not shown (no --explain).
	assert_output out
	assert_equal "$stderr" err
	assert_equal "$(head -n 1 "$d")" sequenceDiagram
	assert_equal "$(participants "$d")" "ctr_run img_pull fs_layer cg_limit net_bridge ns_enter container kernel "
	# Each stage's own kernel calls, taken from what it did.
	run cat "$d"
	assert_line --regexp '^    fs_layer->>kernel: mount\("overlay", "STATE/ID/rootfs", '
	assert_line --regexp '^    cg_limit->>kernel: mkdir ×[0-9]+ \(/sys/fs/cgroup/'
	assert_line --regexp '^    net_bridge->>kernel: RTM_NEWLINK'
	assert_line --regexp '^    ns_enter-\)container: clone\(CLONE_NEW'
	assert_line '    container->>kernel: pivot_root(".", ".")'
	assert_line --regexp '^    container->>kernel: execve\("/bin/sh", '
	assert_line --partial 'opt create: the pipeline'
	assert_line --partial 'opt start: ns-enter'
	assert_line --partial 'opt remove (--rm)'
	# The stages held what they made; ctr-run says rm, no process starts.
	assert_line '    ctr_run-)fs_layer: write(fd 3, "rm"): fs-layer rm ID'
	assert_line '    Note over container: the command ended with status 3'
	# The container's id and this run's directories are written as words.
	assert_line '    ctr_run-)fs_layer: fork()#59; execve(): fs-layer mount --name ID'
	refute_output --partial "$CTRKIT_STATE"
	assert_equal "$(find "$CTRKIT_STATE" -name meta.json | wc -l)" 0
}

@test "ctr-run -d --explain --diagram - busybox sleep [the supervisor starts ns-enter --detach; explain lines still shown]" {
	requires root overlay busybox
	run_tool --separate-stderr host ctr-run -d --explain --network none --diagram - busybox sleep 60
	assert_line --index 0 --regexp '^[0-9a-f]{12}$'
	assert_line --index 1 sequenceDiagram
	assert_line '  participant supervisor'
	assert_line '    ctr_run-)supervisor: fork()#59; setsid()#59; execve(): ctr-run-supervise ID'
	assert_line --partial 'supervisor-)ns_enter: prctl(PR_SET_CHILD_SUBREAPER)#59; fork()#59; execve(): ns-enter --detach --spec STATE/ID/config.json'
	assert_line '    container->>kernel: execve("/bin/sleep", ["sleep" "60"])'
	assert_stderr_contains '[ns-enter] pivot_root("."'
	run_tool host ctr-run rm -f "${lines[0]}"
}

@test "net-bridge show --format mermaid [the test's bridge, veth and container namespace]" {
	requires root overlay busybox
	local br
	br=$(safename)
	run_tool host net-bridge create --name "$br" --subnet 10.231.7.0/24
	run_tool host ctr-run -d --network "$br" -p 8081:80 busybox sleep 60
	local id=$output
	# The kernel's own view: the veth on the bridge.
	assert_equal "$(host ip -j link show master "$br" | jq -r '.[].ifname')" "ck-$id"
	run_tool host net-bridge show --format mermaid
	assert_line --index 0 'flowchart LR'
	assert_line --regexp "^    net_${br//-/_}\[\"$br  bridge up  10\.231\.7\.1/24 .*\"\]$"
	assert_line "    link_ck_$id(\"veth ck-$id up\")"
	assert_line "  subgraph ns_${id}[\"netns ck-$id (container $id)\"]"
	assert_line "    eth0_$id(\"eth0 10.231.7.2/24\")"
	assert_line "  link_ck_$id <-->|\"veth pair\"| eth0_$id"
	assert_line "  nft -.->|\"dnat *:8081/tcp → 10.231.7.2:80\"| eth0_$id"
	run_tool host ctr-run rm -f "$id"
	run_tool host net-bridge rm --name "$br"
}

@test "scripts/gen-diagrams.sh --check [the committed chapters pass; an edited diagram fails]" {
	requires root overlay busybox
	run_tool "$REPO/scripts/gen-diagrams.sh" --check "$REPO/docs/00-overview.md" "$REPO/docs/03-layers.md"
	local copy=$BATS_TEST_TMPDIR/03-layers.md
	sed 's/container layer (read-write, one per container)/container layer (read-only)/' "$REPO/docs/03-layers.md" >"$copy"
	refute cmp -s "$copy" "$REPO/docs/03-layers.md"
	run_tool --separate-stderr --status 1 "$REPO/scripts/gen-diagrams.sh" --check "$copy"
	assert_output --partial '-  C["container layer (read-only)"]'
	assert_output --partial '+  C["container layer (read-write, one per container)"]'
	assert_stderr_contains "$copy: the diagram of 'fs-layer tree --mermaid busybox' differs from what it draws now"
}
