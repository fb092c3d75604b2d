// Command ctr-run-supervise is what stays with a detached container (ctr-run
// -d, start, restart, serve): `ctr-run-supervise ID` keeps the container's
// output in STATE/ID/log, reaps its process, records its exit status,
// restarts it as --restart says and removes it after --rm (the package
// ctrkit/ctr-run/lifecycle does all of it; see its supervise.go).
//
// Why a binary of its own, when `ctr-run supervise ID` does the same: it
// stays resident for the container's whole life, one per container, like
// conmon. A Go process's resident memory is mostly the pages of its binary
// it has touched and the heap its packages' initialisation left behind, and
// every package a binary links is initialised at start, used or not. ctr-run
// links the CLI framework, the Docker API server (net/http), the image
// reference parser and more; this binary links only the lifecycle package,
// so it starts faster and stays smaller. Its settings come from the
// environment ctr-run hands it (CTRKIT_STATE, CTRKIT_ROOT, CTRKIT_EXPLAIN),
// so it has no flags to parse.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"ctrkit/ctr-run/lifecycle"
)

const usage = `Usage: ctr-run-supervise ID

What stays with a detached container, like containerd-shim or conmon: it runs
ns-enter --detach as the container's subreaper, keeps its output in
STATE/ID/log, reaps it, records its exit status, restarts it as --restart says
and removes it after --rm. ctr-run -d, start and serve start it, with
CTRKIT_STATE, CTRKIT_ROOT and CTRKIT_EXPLAIN in its environment; it is not
meant to be typed. ctr-run supervise ID does the same in the bigger binary.
`

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--help" || os.Args[1] == "-h") {
		fmt.Print(usage)
		return
	}
	if len(os.Args) != 2 || os.Args[1] == "" || os.Args[1][0] == '-' {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	// The heap is small and lives long: collect more often, keep less.
	// Detach runs us with GOMAXPROCS=1 (one P: the supervisor mostly
	// waits, and each OS thread the runtime starts keeps its stacks for
	// the process's life); ns-enter and the stages must not inherit it.
	debug.SetGCPercent(20)
	os.Unsetenv("GOMAXPROCS")
	state := os.Getenv("CTRKIT_STATE")
	if state == "" {
		state = "/run/ctrkit"
	}
	c, err := lifecycle.Find(state, os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "ctr-run-supervise: error: %v\n", err)
		os.Exit(125)
	}
	status, err := c.Supervise(os.Environ()) // ctr-run's, made by lifecycle.Env
	if err != nil {
		fmt.Fprintf(os.Stderr, "ctr-run-supervise: error: %v\n", err)
		status = max(status, 125)
	}
	os.Exit(status)
}
