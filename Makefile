# ctrkit — build, test and docs.  `make help` lists the targets.
#
# Every top-level folder holding a main.go is a command; it is built into
# bin/<folder>.  New commands (cg-limit, fs-layer, ...) are picked up
# automatically.

SHELL   := /bin/bash
# sudo's secure_path usually lacks /usr/local/go/bin: find go there too.
GO      ?= $(or $(shell command -v go 2>/dev/null),$(wildcard /usr/local/go/bin/go),go)
GOFMT   ?= $(shell $(GO) env GOROOT 2>/dev/null)/bin/gofmt
PREFIX  ?= /usr/local
BIN     := bin
CMDS    := $(patsubst %/main.go,%,$(wildcard */main.go))
BINS    := $(addprefix $(BIN)/,$(CMDS))
SCRIPTS := $(wildcard scripts/*.sh) $(wildcard scripts/examples/*.sh) .ci/run $(wildcard bats/*.bash) \
           scripts/check $(wildcard scripts/exercises/*.bash) $(wildcard scripts/*.bash)

# ns-enter runs C code before the Go runtime starts (setns into mount and
# user namespaces), so it needs cgo; the others do not. It is linked
# statically all the same (glibc and libseccomp; osusergo and netgo keep
# glibc's NSS, which would load libraries at run time, out): a container's
# every start runs ns-enter twice, and the dynamic loader cost each about
# 1 ms and 50 page faults (docs/bench.md).
CGO_ns-enter   := 1
FLAGS_ns-enter := -tags osusergo,netgo -ldflags '-linkmode external -extldflags -static'

.PHONY: all build test unit cover cover-all bats lint install clean bench demo docs docs-diagrams check-docs setup help test-cgroups test-oci
.PHONY: $(BINS) $(BIN)/ctr-run-supervise

all: build

help:
	@echo "targets: build test unit cover cover-all bats test-cgroups test-oci lint install clean bench demo docs docs-diagrams check-docs check-N setup"
	@echo "commands found: $(CMDS)"

build: $(BINS) $(BIN)/ctrkit-runc $(BIN)/ctr-run-supervise

# ns-enter answers runc's command line when called by this name: the path
# containerd's --runc-binary and dockerd's --add-runtime are given.
$(BIN)/ctrkit-runc: $(BIN)/ns-enter
	ln -sf ns-enter $@

# What stays with a detached container: ctr-run's supervisor in a binary
# of its own that links little (ctr-run/supervise/main.go says why).
$(BIN)/ctr-run-supervise:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./ctr-run/supervise

# Always handed to go build: it knows better than make what is stale.
$(BINS): $(BIN)/%:
	@mkdir -p $(BIN)
	CGO_ENABLED=$(or $(CGO_$*),0) $(GO) build -trimpath $(FLAGS_$*) -o $@ ./$*

test: unit bats

# Tests needing root skip themselves when not root; run `sudo make unit`
# (or scripts/test.sh) to run them all.
# The race detector on the packages whose goroutines share writers (the
# pipeline's stage copiers): slow to build, so only these.
RACE_PKGS ?= ./ctr-run/lifecycle
unit:
	$(GO) test -count=1 $(GOTESTFLAGS) ./...
	$(GO) test -count=1 -race -run 'Pipeline' $(RACE_PKGS)

# bats removes its temp dir with `rm -rf`, which would descend into any
# mount a failed test left there (and delete the mounted files).  So bats
# keeps its dir, and we remove it only if no mount is left under it.
BATS_FLAGS ?= --timing
BATS_FILES ?= bats/
bats: build
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/ck-bats.XXXXXX"); \
	  TMPDIR=$$tmp bats $(BATS_FLAGS) --no-tempdir-cleanup $(BATS_FILES) 2>&1 | grep -v '^BATS_RUN_TMPDIR: '; \
	  rc=$${PIPESTATUS[0]}; \
	  if findmnt -rn -o TARGET | grep -qF "$$tmp/"; then \
	    echo "mounts left under $$tmp, not removing it:" >&2; findmnt -rn -o TARGET | grep -F "$$tmp/" >&2; rc=1; \
	  else rm -rf "$$tmp"; fi; \
	  exit $$rc

# cg-limit, then the whole ctr-run pipeline (run, OOM kill, -d, exec, a
# published port, stats, rm, nothing left), on a real cgroup v2 kernel and a
# real cgroup v1 kernel, each in a throw-away QEMU guest, side by side
# (scripts/test-cgroups.sh, scripts/cgroup-vm.sh); the host's own layout is
# covered by the bats suite.
test-cgroups: $(BIN)/cg-limit $(BIN)/ctr-run $(BIN)/fs-layer $(BIN)/img-pull $(BIN)/net-bridge $(BIN)/ns-enter
	scripts/test-cgroups.sh

# The OCI runtime-tools validation suite (58 programs, TAP) against the
# runtime in CTRKIT_OCI_RUNTIME (default bin/ctrkit-runc; e.g.
# CTRKIT_OCI_RUNTIME=runc), in a private mount namespace: scripts/test-oci.sh.
test-oci: build
	scripts/test-oci.sh

# staticcheck, pinned; `go run pkg@version` fetches it through the Go module
# proxy (checksums through the same proxy's sumdb) into the module cache
# once, and builds it from there afterwards.  Nothing is excluded: a
# deliberate use (a deprecated field the spec still asks runtimes to honour)
# says so with a //lint:ignore CHECK reason comment on the line above.
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	@out=$$($(GOFMT) -l .); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	shellcheck -x $(SCRIPTS)

# Statement coverage per package, then the total.  Run it as root
# (`sudo make cover`): the privileged tests skip themselves otherwise, and
# say little of a mechanism package without them.  "-" is a package with
# no test file, "none" one with no statements.  COVER_PKGS narrows it.
COVER_PKGS ?= ./...
cover:
	@[ "$$(id -u)" = 0 ] || echo "cover: not root, so the privileged tests skip themselves (sudo make cover)" >&2
	@set -o pipefail; prof=$$(mktemp); trap 'rm -f "$$prof"' EXIT; \
	  $(GO) test -count=1 -cover -coverprofile="$$prof" $(GOTESTFLAGS) $(COVER_PKGS) | awk ' \
	    /coverage:/ { for (i = 1; i <= NF; i++) if ($$i == "coverage:") printf "%7s  %s\n", ($$(i + 1) == "[no" ? "none" : $$(i + 1)), ($$1 == "ok" ? $$2 : $$1); next } \
	    /no test files/ { printf "%7s  %s\n", "-", $$2; next } \
	    { print }'; rc=$$?; \
	  $(GO) tool cover -func="$$prof" | tail -n 1; exit $$rc

# cover-all: coverage per package of the unit tests and the bats suite
# together, as root. The commands are built with -cover for the run (and
# rebuilt without it after), and write their counters into GOCOVERDIR as
# they exit: the behaviour tests on the real kernel count, as they should
# for the mechanism packages. ns-enter's stage 1 writes its counters before
# it execs the container (ns-enter/container/cover.go), which needs the
# atomic mode, and may run as another user (a user namespace, -u): so the
# directory is everyone's (not sticky: each writer renames its copy of the
# one meta-data file over the others'). About as long as the two suites.
cover-all:
	@[ "$$(id -u)" = 0 ] || { echo "cover-all: run it as root (sudo make cover-all)" >&2; exit 1; }
	@dir=$$(mktemp -d); trap 'rm -rf "$$dir"; GOFLAGS= $(MAKE) -s build >/dev/null' EXIT; \
	  mkdir "$$dir/unit" "$$dir/bats"; chmod 711 "$$dir"; chmod 777 "$$dir/bats"; export GOFLAGS="-cover -covermode=atomic -coverpkg=ctrkit/..."; \
	  $(GO) test -count=1 ./... -args -test.gocoverdir="$$dir/unit" >"$$dir/unit.log" 2>&1 || { tail -n 30 "$$dir/unit.log"; echo "cover-all: unit tests failed" >&2; }; \
	  GOCOVERDIR="$$dir/bats" $(MAKE) -s bats >"$$dir/bats.log" 2>&1 || { grep -A5 '^not ok' "$$dir/bats.log"; echo "cover-all: bats tests failed" >&2; }; \
	  $(GO) tool covdata percent -i "$$dir/unit,$$dir/bats" | awk '{ sub(/^ctrkit\//, "", $$1); printf "%7s  %s\n", $$3, $$1 }' | sort -k2; \
	  $(GO) tool covdata textfmt -i "$$dir/unit,$$dir/bats" -o "$$dir/prof" && $(GO) tool cover -func="$$dir/prof" | tail -n 1

install: build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BINS) $(BIN)/ctr-run-supervise $(DESTDIR)$(PREFIX)/bin/
	ln -sf ns-enter $(DESTDIR)$(PREFIX)/bin/ctrkit-runc

clean:
	rm -rf $(BIN)

setup:
	scripts/setup.sh

# One table at the end (docs/bench.md); BENCH="layers ctr-run" runs a part.
bench: build
	scripts/bench-all.sh $(BENCH)

demo: build
	scripts/demo.sh

# The exercises at the end of chapter N: `make check-2` is scripts/check 2
# (as root; docs/solutions.md has the solutions).
check-%:
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/check $*

docs: build
	scripts/gen-reference.sh docs/reference

# The chapters' ```mermaid blocks marked <!-- diagram: COMMAND -->, drawn
# again from real runs in a private network namespace (as root):
# scripts/gen-diagrams.sh.  check-docs compares them instead.
docs-diagrams: build
	scripts/gen-diagrams.sh

check-docs: build
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  scripts/gen-reference.sh "$$tmp" >/dev/null && \
	  if ! diff -ru docs/reference "$$tmp"; then \
	    echo "docs/reference is out of date: run 'make docs' and commit it" >&2; exit 1; \
	  fi
	@if [ "$$(id -u)" = 0 ]; then scripts/gen-diagrams.sh --check; \
	  else echo "check-docs: the chapters' diagrams are not checked: that runs containers (sudo make check-docs)" >&2; fi
