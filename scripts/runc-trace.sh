#!/bin/sh
# runc-trace.sh — see how an engine calls its OCI runtime: log each call's
# command line, working directory and environment, then run the real one.
#
# Usage: point the engine at this script instead of runc:
#
#   ctr run --runc-binary "$PWD/scripts/runc-trace.sh" …
#   dockerd --add-runtime traced="$PWD/scripts/runc-trace.sh" …
#   CTRKIT_OCI_RUNTIME=$PWD/scripts/runc-trace.sh make bats BATS_FILES=bats/90-oci-containerd.bats
#
#   RUNC_TRACE_LOG      where to append (default /tmp/runc-trace.log)
#   RUNC_TRACE_RUNTIME  the runtime to run (default runc)
#
# The runtime inherits the environment of whoever started the shim (the
# variables reach it through containerd), and runs in the bundle directory.
# Each line of the log: time, pid, parent (the shim), cwd, then the
# arguments, quoted; the next line: the environment, sorted.
log=${RUNC_TRACE_LOG:-/tmp/runc-trace.log}
{
	printf '%s pid=%s ppid=%s cwd=%s\n  argv:' "$(date +%T.%N)" "$$" "$PPID" "$PWD"
	for a in "$@"; do printf " '%s'" "$a"; done
	printf '\n  env: %s\n' "$(env | sort | tr '\n' ' ')"
} >>"$log"
exec "${RUNC_TRACE_RUNTIME:-runc}" "$@"
