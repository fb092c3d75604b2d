// Command ctr-run is ctrkit's docker run: it runs the other ctrkit commands
// as one pipeline, exactly as a shell would, and manages the containers it
// made.
//
// Synopsis:
//
//	ctr-run [run] [FLAGS] IMAGE [CMD ARGS…]     create and start (default)
//	ctr-run run --dry-run … IMAGE               print the pipeline instead
//	ctr-run run --diagram FILE … IMAGE          and draw the run (Mermaid)
//	ctr-run create [FLAGS] IMAGE [CMD…] | start [-a] ID
//	ctr-run ps [-a] | logs [-f] ID | inspect ID | stats ID
//	ctr-run exec [-i] [-t] ID CMD…
//	ctr-run stop [-t SECONDS] ID… | kill [-s SIGNAL] ID… | rm [-f] ID…
//	ctr-run pause ID… | unpause ID…
//	ctr-run gc [--dry-run]
//
// Options (as docker run's): --name, -d, --rm, -i, -t, -e, --env-file, -w,
// -u, --entrypoint, --hostname, -m, --memory-swap, --cpus, --cpu-shares,
// --pids-limit, -p, -v, --tmpfs, --read-only, --network, --init,
// --restart, --log-opt, --explain.
package main

import (
	"io"
	"os"

	"ctrkit/internal/cli"
)

type CLI struct {
	cli.Globals
	Run       RunCmd       `cmd:"" default:"withargs" help:"Create and start a container (the default), like docker run."`
	Create    CreateCmd    `cmd:"" help:"Prepare a container (image, layers, cgroup, network) without starting it; print its id."`
	Start     StartCmd     `cmd:"" help:"Start a created container."`
	Ps        PsCmd        `cmd:"" help:"List containers."`
	Exec      ExecCmd      `cmd:"" help:"Run a command in a running container's namespaces and cgroup."`
	Logs      LogsCmd      `cmd:"" help:"Print a detached container's output."`
	Stop      StopCmd      `cmd:"" help:"Stop containers: SIGTERM, then SIGKILL after a timeout."`
	Kill      KillCmd      `cmd:"" help:"Send a signal to containers."`
	Rm        RmCmd        `cmd:"" help:"Remove containers and everything their stages made."`
	Inspect   InspectCmd   `cmd:"" help:"Print a container's state, spec and resources as JSON."`
	Stats     StatsCmd     `cmd:"" help:"Show a container's resource use (cg-limit stats)."`
	Restart   RestartCmd   `cmd:"" help:"Stop containers and start them again, like docker restart."`
	Pause     PauseCmd     `cmd:"" help:"Freeze every process of containers."`
	Unpause   UnpauseCmd   `cmd:"" help:"Thaw paused containers."`
	Gc        GcCmd        `cmd:"" help:"Remove what crashed runs left behind (never a running container)."`
	Serve     ServeCmd     `cmd:"" help:"Answer the Docker Engine API on a Unix socket, so the docker CLI drives ctrkit (plays dockerd)."`
	Supervise SuperviseCmd `cmd:"" hidden:"" help:"Run a detached container (started by ctr-run -d)."`
}

// Stdio are the streams a verb reads and writes: stdout carries data only
// (ids, tables, JSON), stderr the rest. The container's own stdio is not
// here: the stages it runs inherit ctr-run's file descriptors.
type Stdio struct {
	Stdin          *os.File
	Stdout, Stderr io.Writer
}

// run is ctr-run with its arguments and streams: main only exits, tests
// call run.
func run(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	var c CLI
	return cli.Main("ctr-run", "Run containers by running the ctrkit pipeline: img-pull | fs-layer | cg-limit | net-bridge | ns-enter.", &c, args, stdout, stderr,
		&c.Globals, &Stdio{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func main() {
	os.Exit(cli.Status("ctr-run", os.Stderr, run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)))
}
