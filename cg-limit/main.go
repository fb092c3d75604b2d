// Command cg-limit puts processes in control groups (cgroups) and limits
// what they may use: memory, CPU time and CPUs, I/O bandwidth, process
// count. It works on cgroup v2, cgroup v1 and the hybrid of both, and shows
// which kernel file each limit is (--explain, cg-limit info).
//
// Synopsis:
//
//	cg-limit run [LIMITS] [--name NAME] -- CMD ARGS…
//	… | cg-limit [LIMITS] [--name NAME] | …        (the pipe document)
//	cg-limit create NAME [LIMITS]
//	cg-limit update NAME [LIMITS]
//	cg-limit add NAME PID
//	cg-limit stats NAME [--format json] [--watch]
//	cg-limit freeze NAME | thaw NAME | kill NAME [SIGNAL] | rm NAME
//	cg-limit ls | info
//
// Options (LIMITS, named as docker's):
//
//	-m, --memory SIZE   --memory-swap SIZE   --memory-reservation SIZE
//	--cpus N   --cpu-shares N   --cpu-period US   --cpu-quota US
//	--cpuset-cpus LIST   --cpuset-mems LIST   --pids-limit N
//	--blkio-weight N   --device-{read,write}-{bps,iops} DEV:RATE
//	--net-prio IFACE:PRIO
//	--privileged   --device-cgroup-rule 'c 1:3 rwm'   (devices: create, run, the pipe)
//	--explain   print each kernel call and its shell equivalent on stderr
package main

import (
	"io"
	"os"

	"ctrkit/internal/cli"

	"golang.org/x/term"
)

type CLI struct {
	cli.Globals
	Apply  ApplyCmd  `cmd:"" default:"withargs" help:"Read a runtime spec on stdin, create its cgroup, write the spec with linux.resources and linux.cgroupsPath (the default)."`
	Run    RunCmd    `cmd:"" help:"Run a command in a new cgroup with limits; remove the cgroup when it ends."`
	Create CreateCmd `cmd:"" help:"Create the cgroup /ctrkit/NAME with limits."`
	Update UpdateCmd `cmd:"" help:"Change the limits of a cgroup while its processes run."`
	Add    AddCmd    `cmd:"" help:"Move a running process into a cgroup."`
	Stats  StatsCmd  `cmd:"" help:"Show what the kernel counts for a cgroup: CPU, memory, OOM kills, pids, I/O."`
	Freeze FreezeCmd `cmd:"" help:"Stop every process of a cgroup where it stands."`
	Thaw   ThawCmd   `cmd:"" help:"Let the processes of a frozen cgroup run again."`
	Kill   KillCmd   `cmd:"" help:"Send a signal to every process of a cgroup."`
	Ls     LsCmd     `cmd:"" help:"List the cgroups ctrkit made."`
	Rm     RmCmd     `cmd:"" help:"Remove cgroups."`
	Info   InfoCmd   `cmd:"" help:"Tell how this host mounts cgroups (v2, v1 or hybrid), and which file each flag writes."`
}

// Stdio are the streams a verb reads and writes: stdin may carry the pipe
// document (a file, so spec.FromStdin can tell a pipe from a terminal),
// stdout carries data only, stderr the rest. cg-limit run hands all three
// to its command.
type Stdio struct {
	Stdin          *os.File
	Stdout, Stderr io.Writer
}

// terminal tells whether stdout is a terminal (stats --watch redraws it).
func (s *Stdio) terminal() bool {
	f, ok := s.Stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// run is cg-limit with its arguments and streams: main only exits, tests
// call run.
func run(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	var c CLI
	return cli.Main("cg-limit", "Limit what processes may use with control groups: the resource half of every container.", &c, args, stdout, stderr,
		&c.Globals, &Stdio{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func main() {
	os.Exit(cli.Status("cg-limit", os.Stderr, run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)))
}
