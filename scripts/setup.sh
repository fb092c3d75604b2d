#!/usr/bin/env bash
# setup.sh — install the Debian packages the ctrkit demo and test suite need.
#
# Usage: sudo scripts/setup.sh
#
# Installs only what is missing (checked with `dpkg -s`), and runs
# `apt-get update` only when something has to be installed.
set -euo pipefail

packages=(
	make gcc libc6-dev                      # the build (ns-enter uses cgo)
	libseccomp-dev pkg-config               # ns-enter: seccomp filters (libseccomp-golang)
	bats bats-assert bats-support bats-file # the test suite
	python3-docker                          # bats/95-serve: docker-py against ctr-run serve
	busybox-static                          # the offline rootfs and image
	runc crun                               # cross-checks and benchmarks
	iproute2 util-linux procps              # ip, unshare/nsenter/findmnt, ps
	nftables                                # nft, to cross-check net-bridge's rules
	iperf3                                  # make bench: overlay vs bridge throughput
	shellcheck jq hyperfine time python3    # lint, spec editing, bench, free ports
	libcap2-bin                             # capsh, to decode capability masks (chapter 8)
	strace                                  # bats/74-hosts: which netlink sockets net-bridge opens
	qemu-system-x86 cpio xz-utils           # make test-cgroups (scripts/cgroup-vm.sh)
	cgroup-tools                            # cgexec, cg-limit's bench baseline
	docker-registry skopeo umoci curl       # img-pull: a local registry, cross-checks
	oci-image-tool                          # img-pull: validates the OCI layout
	attr tar zstd                           # fs-layer: setfattr/getfattr, test layers
	containerd docker.io                    # bats/9x-oci-*: engines driving the runtime
	podman buildah                          # make bench: the peers of ctr-run and img-build
)

if ! command -v go >/dev/null && ! [ -x /usr/local/go/bin/go ]; then
	echo "setup: note: Go $(sed -n 's/^go //p' "$(dirname "$0")/../go.mod") is needed to build and is not in Debian 12: https://go.dev/dl/" >&2
fi

missing=()
for p in "${packages[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "setup: all ${#packages[@]} packages already installed"
	exit 0
fi

echo "setup: missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
	echo "setup: installing packages needs root; run: sudo $0" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Installing containerd, docker.io or docker-registry must not start their
# daemons on this host (the tests start their own, privately): without a
# policy-rc.d, add one that refuses every service start for the install.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: installed ${missing[*]}"
