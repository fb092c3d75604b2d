#!/usr/bin/env bats
# img-build: a Dockerfile becomes layers in the store.  Each test is one
# statement about what the build did: which steps ran, which came from the
# cache, what the image holds, and what the registry received.
# shellcheck disable=SC2154 # stderr is set by bats' run

load helpers
load img-pull

# One store for the file; the base image busybox:latest is a busybox root
# filesystem imported as one layer, like docker import.
setup_file() {
	requires root overlay busybox
	export IB=$BATS_FILE_TMPDIR
	export CTRKIT_ROOT=$IB/root
	make_rootfs "$IB/base"
	tar --numeric-owner -C "$IB/base" -cf "$IB/base.tar" .
	img-pull import "$IB/base.tar" busybox:latest >/dev/null

	# The context: files, a directory, an ignored file, a tarball for ADD.
	local c=$IB/ctx
	mkdir -p "$c/conf/sub" "$c/t"
	echo hello >"$c/hello.txt"
	echo one >"$c/conf/a.conf"
	echo two >"$c/conf/sub/b.conf"
	echo secret >"$c/notes.log"
	echo inside >"$c/t/x" && tar -C "$c/t" -czf "$c/files.tar.gz" . && rm -r "$c/t"
	printf '*.log\n' >"$c/.dockerignore"
	cat >"$c/Dockerfile" <<-'DOCKERFILE'
		# escape=\
		ARG BASE=busybox:latest
		FROM ${BASE}
		ARG GREETING=hi
		ENV APP=/app \
		    MSG="hello world"
		WORKDIR $APP
		COPY hello.txt ./
		COPY --chown=1000:1000 conf/ conf/
		ADD files.tar.gz /opt/
		# a comment in the middle
		RUN echo "${GREETING:-none} $MSG" > greeting && \
		    echo 'app:x:1001:1001::/app:/bin/sh' >> /etc/passwd && \
		    echo 'staff:x:50:app' >> /etc/group
		USER app
		LABEL org.example.title="demo image" version=1
		EXPOSE 8080 53/udp
		VOLUME ["/data"]
		SHELL ["/bin/sh", "-c"]
		ENTRYPOINT ["/bin/sh", "-c"]
		CMD ["cat /app/greeting /app/hello.txt"]
	DOCKERFILE
}

teardown_file() {
	stop_registry 2>/dev/null || true
}

@test "img-build -t demo:1 CTX [every instruction; the config is what Docker writes]" {
	run_tool --separate-stderr img-build --explain -t demo:1 "$IB/ctx"
	assert_output --regexp '^sha256:[0-9a-f]{64}$'
	echo "$output" >"$IB/digest"
	assert_stderr_contains "1 RUN executed"
	# no build ran on busybox here yet: fs-layer unpacked it while the
	# COPY steps ran, and the RUN's mount found it unpacked
	assert_stderr_contains "exec fs-layer  \$ fs-layer unpack sha256:"
	[ "$(grep -c '^\[fs-layer\] # layer 1: .* entries, .* verified' <<<"$stderr")" -eq 1 ]
	[ "$(grep -c '^\[fs-layer\] # layer 1 sha256:[0-9a-f]* already unpacked in' <<<"$stderr")" -eq 1 ]
	run_tool bash -o pipefail -c "skopeo inspect --config oci:$CTRKIT_ROOT/oci:docker.io/library/demo:1 | jq -c '.config'"
	assert_output --partial '"User":"app"'
	assert_output --partial '"ExposedPorts":{"53/udp":{},"8080/tcp":{}}'
	assert_output --partial '"Env":["APP=/app","MSG=hello world"]'
	assert_output --partial '"Entrypoint":["/bin/sh","-c"]'
	assert_output --partial '"Cmd":["cat /app/greeting /app/hello.txt"]'
	assert_output --partial '"Volumes":{"/data":{}}'
	assert_output --partial '"WorkingDir":"/app"'
	assert_output --partial '"org.example.title":"demo image"'
	# 1 base layer + COPY, COPY, ADD, RUN; metadata steps are empty_layer history
	run_tool bash -o pipefail -c "skopeo inspect --config oci:$CTRKIT_ROOT/oci:docker.io/library/demo:1 | jq -c '[(.rootfs.diff_ids | length), ([.history[] | select(.empty_layer != true)] | length)]'"
	assert_output '[5,5]'
}

@test "img-build [the image runs: ns-enter through the pipe, as USER app, with its groups as docker gives them]" {
	run_tool bash -o pipefail -c "img-pull --pull never demo:1 | fs-layer mount --name $(safename) | ns-enter --pid --net"
	assert_output "$(printf 'hi hello world\nhello')"
	run_tool bash -o pipefail -c "img-pull --pull never demo:1 | fs-layer mount --name $(safename)-b | ns-enter --pid --net -- sh -c 'id -u; id -G; cat /app/conf/sub/b.conf /opt/x; stat -c %u /app/conf/a.conf; ls /app/conf'"
	assert_output "$(printf '1001\n1001 50\ntwo\ninside\n1000\na.conf\nsub')"
	fs-layer rm "$(safename)" "$(safename)-b"
}

@test "img-build again [every step CACHED, nothing executed, the same digest]" {
	run_tool --separate-stderr img-build --explain -t demo:1 "$IB/ctx"
	assert_output "$(cat "$IB/digest")"
	assert_stderr_contains "4 cached, 0 RUN executed"
	[ "$(grep -c '^  CACHED' <<<"$stderr")" -eq 4 ]
	# the transcript names every command run: no fs-layer, no ns-enter
	refute_stderr_contains "exec ns-enter"
	refute_stderr_contains "exec fs-layer"
}

@test "img-build after a COPY source changed [misses from that step on, says why]" {
	cp -a "$IB/ctx" "$IB/ctx2"
	echo changed >"$IB/ctx2/conf/a.conf"
	touch "$IB/ctx2/hello.txt" # a new mtime alone does not invalidate
	run_tool --separate-stderr img-build --explain -t demo:2 "$IB/ctx2"
	assert_stderr_contains "[5/15] COPY hello.txt /app/"
	# COPY hello.txt hit, the conf/ COPY missed, ADD and RUN missed after it
	[ "$(grep -c '^  CACHED' <<<"$stderr")" -eq 1 ]
	assert_stderr_contains "1 cached, 1 RUN executed"
	assert_stderr_contains "same parent and instruction, but its other inputs changed"
	assert_stderr_contains "an earlier step changed, so every step after it misses"
	# the RUN's fs-layer mount held its container and removed it on "rm":
	# two fs-layer processes (mount, diff), no fs-layer rm
	assert_stderr_contains "write(fs-layer's fd 3, \"rm\"); close; wait("
	assert_equal "$(grep -c 'exec fs-layer' <<<"$stderr")" 2
}

@test "img-build --target / COPY --from [multi-stage: the final image holds only what was copied]" {
	command -v umoci >/dev/null || skip "needs umoci (apt-get install umoci)"
	local c=$BATS_TEST_TMPDIR/ms
	mkdir -p "$c"
	cat >"$c/Dockerfile" <<-'DOCKERFILE'
		FROM busybox:latest AS builder
		RUN mkdir /out && echo built > /out/artifact && echo junk > /junk
		FROM builder AS unused
		RUN echo this stage is not needed; exit 1
		FROM scratch
		COPY --from=builder /out/artifact /artifact
	DOCKERFILE
	run_tool --separate-stderr img-build -t ms:1 "$c"
	refute_stderr_contains "not needed"
	run_tool bash -o pipefail -c "cd $BATS_TEST_TMPDIR && umoci raw unpack --rootless --image $CTRKIT_ROOT/oci:docker.io/library/ms:1 rootfs >/dev/null 2>&1 && find rootfs -mindepth 1 | sort && cat rootfs/artifact"
	assert_output "$(printf 'rootfs/artifact\nbuilt')"
	run_tool --status 1 --separate-stderr img-build -t ms:unused --target unused "$c"
	assert_stderr_contains "this stage is not needed"
}

@test "img-build RUN <<EOF / COPY <<EOF [heredocs: a script, a #! script, inline files; a BOM is skipped]" {
	local c=$BATS_TEST_TMPDIR/heredoc
	mkdir -p "$c"
	printf '\xef\xbb\xbf' >"$c/Dockerfile"
	cat >>"$c/Dockerfile" <<-'DOCKERFILE'
		FROM busybox:latest
		ARG WHO=heredoc
		RUN <<EOF
		echo one >/one
		echo two >>/one
		EOF
		RUN <<EOF
		#!/bin/sh
		echo "shebang $0" >/two
		EOF
		COPY <<EOF <<'RAW' /etc/hd/
		hello $WHO
		EOF
		kept $WHO
		RAW
		RUN cat <<EOF >/three
		three $WHO
		EOF
	DOCKERFILE
	run_tool --separate-stderr img-build -t hd:1 "$c"
	assert_stderr_contains "3 RUN executed"
	run_tool bash -o pipefail -c "img-pull --pull never hd:1 | fs-layer mount --name $(safename) | ns-enter --pid --net -- sh -c 'cat /one /two /etc/hd/EOF /etc/hd/RAW /three; ls /dev/pipes 2>&1 || true'"
	assert_output "$(printf 'one\ntwo\nshebang /dev/pipes/EOF\nhello heredoc\nkept $WHO\nthree heredoc\nls: /dev/pipes: No such file or directory')"
	fs-layer rm "$(safename)"
}

@test "img-build RUN false [the command's status, line number, nothing tagged, nothing left mounted]" {
	local c=$BATS_TEST_TMPDIR/fail
	mkdir -p "$c"
	printf 'FROM busybox:latest\nRUN echo before\nRUN echo about to fail; exit 3\n' >"$c/Dockerfile"
	run_tool --status 3 --separate-stderr img-build -t fail:1 "$c"
	assert_stderr_contains "Dockerfile:3: RUN: echo about to fail; exit 3: exit status 3"
	assert_stderr_contains "about to fail"
	run_tool ! img-pull inspect fail:1
	run_tool bash -c "findmnt -rn -o TARGET | grep -F '$CTRKIT_STATE/ckb-' || true"
	assert_output ""
	run_tool bash -c "ls $CTRKIT_STATE | grep ckb- || true"
	assert_output ""
	run_tool bash -c "img-pull ls | grep ctrkit-build || true"
	assert_output ""
}

@test "img-build [bad Dockerfiles: an error naming the file and line]" {
	local c=$BATS_TEST_TMPDIR/bad
	mkdir -p "$c"
	printf 'FROM busybox:latest\n\nRUNN echo hi\n' >"$c/Dockerfile"
	run_tool --status 1 img-build "$c"
	assert_output --partial "Dockerfile:3: unknown instruction \"RUNN\""
	printf 'FROM busybox:latest\nCOPY missing.txt /\n' >"$c/Dockerfile"
	run_tool --status 1 img-build "$c"
	assert_output --partial 'Dockerfile:2: COPY: source "missing.txt": no such file'
	printf 'FROM busybox:latest\nCOPY --from=nowhere /a /b\n' >"$c/Dockerfile"
	run_tool --status 1 img-build "$c"
	assert_output --partial "Dockerfile:2: COPY: --from=nowhere: no stage of that name"
	printf 'ENV A=1\nFROM busybox:latest\n' >"$c/Dockerfile"
	run_tool --status 1 img-build "$c"
	assert_output --partial "Dockerfile:1: ENV before the first FROM"
	printf 'FROM busybox:latest\nENV\n' >"$c/Dockerfile"
	run_tool --status 1 img-build "$c"
	assert_output --partial "Dockerfile:2: ENV needs arguments"
	printf 'FROM busybox:latest\nARG CK_SURELY_UNSET_VAR\n' >"$c/Dockerfile"
	run_tool --status 1 img-build --build-arg CK_SURELY_UNSET_VAR "$c"
	assert_output --partial "--build-arg CK_SURELY_UNSET_VAR: no value"
}

@test "img-build push [HEAD first: a second push uploads nothing; img-pull gets the same digest]" {
	start_registry
	run_tool --separate-stderr img-build push demo:1 "$REGISTRY/ck/demo:1"
	local digest=$output
	assert_stderr_contains "6 blobs uploaded, 0 already there"
	run_tool --separate-stderr img-build push demo:1 "$REGISTRY/ck/demo:1"
	assert_output "$digest"
	assert_stderr_contains "0 blobs uploaded, 6 already there"
	run_tool bash -o pipefail -c "skopeo inspect --tls-verify=false docker://$REGISTRY/ck/demo:1 | jq -r .Digest"
	assert_output "$digest"
	CTRKIT_ROOT=$BATS_TEST_TMPDIR/fresh run_tool --separate-stderr img-pull --print digest "$REGISTRY/ck/demo:1"
	assert_output "$digest"
	stop_registry
}
