#!/usr/bin/env bash
# replay.sh — the shell script in an --explain transcript.
#
# Usage: scripts/replay.sh [TRANSCRIPT]      (stdin without one)
#
# Every explain line is "[TOOL] KERNEL CALL  $ SHELL EQUIVALENT"; a file's
# contents follow their step as heredoc lines "[TOOL] > LINE". This prints
# the shell halves, in order, as a script for bash:
#
#   ctr-run -d --explain -m 64m -p 8080:80 busybox httpd -f -p 80 -h /etc 2>run.txt
#   ctr-run rm -f "$(tail -n1 …)"              # or on a fresh machine
#   scripts/replay.sh run.txt > run.sh && bash < run.sh &
#
# Run it with `bash < script`, not `bash script`: the steps after an
# `unshare … bash` line are read by that new shell, in the container's new
# namespaces, from the same standard input. Lines without a shell half
# (notes, progress, warnings) are left out.
set -euo pipefail
sed -n -e 's/^\[[a-z-]*\] > //p' -e 's/^\[[a-z-]*\] \(.*  \)\{0,1\}\$ //p' "${1:--}"
