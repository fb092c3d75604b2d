// Package sibling finds the other ctrkit commands, and gives the ones that
// work in one sequence their environment (OneP). Commands compose by
// running each other, exactly as a shell script would (ctr-run runs the
// pipeline, img-build runs fs-layer and ns-enter for RUN), never by
// importing each other's code.
package sibling

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Path is where command name is: next to the running executable (how
// `make build` and `make install` lay out the commands), else on PATH,
// else the bare name, so that exec reports it missing.
func Path(name string) string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}

// OneP is env for a command that works in one sequence (cg-limit,
// net-bridge, ns-enter and its stage 1, every removal, ctr-run's
// supervisor): a single P, GOMAXPROCS=1. The Go runtime then starts fewer
// threads, and wakes no second one to look for work that is not there:
// ~2 ms and ~50 page faults of each start on a virtual machine, and CPU
// the other processes of a container's start need on two cores
// (docs/bench.md). It is the starter's to say: the runtime reads it before
// any code of the command runs. A GOMAXPROCS of the caller's stays.
func OneP(env []string) []string {
	for _, v := range env {
		if strings.HasPrefix(v, "GOMAXPROCS=") {
			return env
		}
	}
	return append(slices.Clip(env), "GOMAXPROCS=1")
}
