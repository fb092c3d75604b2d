// Command ns-enter runs a command in new Linux namespaces, joins the
// namespaces of a running process, or runs an OCI runtime spec.
//
// Synopsis:
//
//	ns-enter [KINDS] [--hostname NAME] [--mount-proc] [--map-root | --uid-map M --gid-map M] [--rootfs DIR] [-i] [-t] [--init] [-- CMD ARGS…]
//	ns-enter --target PID [KINDS] [-- CMD ARGS…]
//	… | ns-enter [-i] [-t] [-- CMD ARGS…]
//	ns-enter --bundle DIR
//	ns-enter spec [same flags] [-- CMD ARGS…]
//	ns-enter show [PID]
//	ns-enter oci … (or ctrkit-runc …)   runc's command line, for containerd and dockerd
//
// Options:
//
//	--pid --net --ipc --mount --uts --user --cgroup --all   namespace kinds
//	--target PID   join PID's namespaces of those kinds instead of making new ones
//	--rootfs DIR   pivot_root into DIR, with /proc, /dev and a read-only /sys
//	--seccomp unconfined|FILE   no seccomp filter, or this profile (a --rootfs spec carries docker's)
//	--explain      print each kernel call and its shell equivalent on stderr
package main

import (
	"io"
	"os"

	"ctrkit/internal/cli"
	"ctrkit/ns-enter/container"
	_ "ctrkit/ns-enter/setns" // joins namespaces before the Go runtime starts
)

type CLI struct {
	cli.Globals
	Run  RunCmd  `cmd:"" default:"withargs" help:"Run a command in new or joined namespaces (the default)."`
	Spec SpecCmd `cmd:"" help:"Print the OCI runtime spec the flags describe, without running it."`
	Show ShowCmd `cmd:"" help:"List the namespaces of a process and which differ from the host's."`
	OCI  OCICmd  `cmd:"" name:"oci" help:"runc's command line (create, start, state, kill, delete, exec…), for containerd and dockerd; also reached as ctrkit-runc (ns-enter oci --help)."`
}

// OCICmd only lists oci in the help: main hands ns-enter oci … to ociMain
// before kong reads ns-enter's own flags (oci's --root is another one).
type OCICmd struct {
	Args []string `arg:"" optional:"" passthrough:"" help:"runc's global flags, command and arguments."`
}

func (c *OCICmd) Run() error { ociMain(c.Args); return nil }

func main() {
	if container.IsInit() {
		os.Exit(container.Init())
	}
	if args, ok := ociArgs(os.Args); ok {
		ociMain(args) // oci.go: runc's command line
		return
	}
	os.Exit(cli.Status("ns-enter", os.Stderr, run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)))
}

// Stdio are the streams a verb reads and writes: stdin may carry the pipe
// document (a file, so spec.FromStdin can tell a pipe from a terminal),
// stdout carries data only, stderr the rest.
type Stdio struct {
	Stdin          *os.File
	Stdout, Stderr io.Writer
}

// run is ns-enter with its arguments and streams (help and usage go to
// the given writers): main only exits, tests call run.
func run(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	var c CLI
	return cli.Main("ns-enter", "Run a command in its own Linux namespaces: the isolation every container is made of.", &c, args, stdout, stderr,
		&c.Globals, &Stdio{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}
