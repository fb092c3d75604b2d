package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"ctrkit/internal/cli"
	"ctrkit/ns-enter/namespace"
)

type ShowCmd struct {
	PID int `arg:"" optional:"" help:"Process to look at (default: ns-enter itself)."`
}

func (c *ShowCmd) Help() string {
	return `Each namespace is a file under /proc/PID/ns/. Its inode number is the
namespace's identity: two processes with the same inode share it. HOST says
whether it is the host's (PID 1's), so a container's process shows "no" for
every kind it was given its own of. Like lsns(8).`
}

func (c *ShowCmd) Run(g *cli.Globals, s *Stdio) error {
	pid := c.PID
	if pid == 0 {
		pid = os.Getpid()
	}
	g.Log("ns-enter", s.Stderr).Step(fmt.Sprintf("readlink(\"/proc/%d/ns/*\")", pid), fmt.Sprintf("ls -l /proc/%d/ns", pid))
	es, err := namespace.Of(pid)
	if err != nil {
		return &cli.ExitError{Code: 125, Err: err}
	}
	if namespace.HostPID() != 1 {
		fmt.Fprintln(s.Stderr, "ns-enter: PID 1's namespaces are not readable here (it holds capabilities we lack): HOST compares with ns-enter's own")
	}
	w := tabwriter.NewWriter(s.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NS\tINODE\tHOST\tISOLATES")
	for _, e := range es {
		host := "no"
		if e.Host {
			host = "yes"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", e.Kind.Name, e.Inode, host, e.Kind.Hides)
	}
	return w.Flush()
}
