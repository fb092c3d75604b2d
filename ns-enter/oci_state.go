package main

// runc state, ps and list: reading containers (oci.go has the command line).

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"ctrkit/ns-enter/runtime"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type OCIStateCmd struct {
	ID string `arg:"" help:"The container's id."`
}

// ociState is runc's state document: the runtime spec's, plus when it was
// created and the root filesystem.
type ociState struct {
	specs.State
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	Owner   string    `json:"owner"`
}

func stateOf(st *runtime.State) ociState {
	return ociState{State: st.OCIState(st.Status(runtime.Frozen)), Rootfs: st.Rootfs, Created: st.Created, Owner: "root"}
}

func (c *OCIStateCmd) Run(o *OCI) error {
	st, err := runtime.Load(o.Root, c.ID)
	if err != nil {
		return err
	}
	return printJSON(stateOf(st))
}

type OCIPsCmd struct {
	Format string `short:"f" enum:"table,json" default:"table" help:"table or json."`
	ID     string `arg:"" help:"The container's id."`
}

func (c *OCIPsCmd) Run(o *OCI) error {
	st, err := runtime.Load(o.Root, c.ID)
	if err != nil {
		return err
	}
	pids, err := st.Pids()
	if err != nil {
		return err
	}
	if c.Format == "json" {
		if pids == nil {
			pids = []int{}
		}
		return printJSON(pids)
	}
	fmt.Println("PID\tCMD")
	for _, pid := range pids {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		fmt.Printf("%d\t%s\n", pid, strings.TrimSpace(string(comm)))
	}
	return nil
}

type OCIListCmd struct {
	Format string `short:"f" enum:"table,json" default:"table" help:"table or json."`
	Quiet  bool   `short:"q" help:"Only the ids."`
}

func (c *OCIListCmd) Run(o *OCI) error {
	sts, err := runtime.List(o.Root)
	if err != nil {
		return err
	}
	if c.Format == "json" {
		out := []ociState{}
		for _, st := range sts {
			out = append(out, stateOf(st))
		}
		return printJSON(out)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	if !c.Quiet {
		fmt.Fprintln(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER")
	}
	for _, st := range sts {
		s := stateOf(st)
		if c.Quiet {
			fmt.Fprintln(w, s.ID)
			continue
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
	}
	return w.Flush()
}
