package main

// runc's command line, so containerd, dockerd and the OCI runtime-tools
// validation suite can drive ns-enter as their OCI runtime. Reached as
// `ns-enter oci ARGS…`, or through a link named ctrkit-runc (make build
// makes bin/ctrkit-runc), which is what `ctr run --runc-binary` and
// `dockerd --add-runtime` are given:
//
//	ctrkit-runc --root /run/containerd/runc/default --log …/log.json --log-format json \
//	    create --bundle B --pid-file B/init.pid [--console-socket S] ID
//	ctrkit-runc … start ID;  … kill ID 15;  … delete ID
//
// Careful with --root: here, as in runc, it is the directory of the
// runtime's container state; everywhere else in ctrkit --root is the image
// store (CTRKIT_ROOT).

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ctrkit/internal/cli"
	"ctrkit/internal/explain"

	"github.com/alecthomas/kong"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// ociName is the name ns-enter answers to as an OCI runtime.
const ociName = "ctrkit-runc"

// OCI is runc's command line.
type OCI struct {
	Root          string           `help:"Directory of the runtime's container state (runc's --root; not ctrkit's image store)." default:"/run/ctrkit/runc" type:"path" placeholder:"DIR"`
	LogFile       string           `name:"log" help:"Also write errors to FILE, as containerd's shim reads them." placeholder:"FILE"`
	LogFormat     string           `name:"log-format" help:"text or json." enum:"text,json" default:"text"`
	Debug         bool             `help:"Print each step, as --explain does."`
	SystemdCgroup bool             `name:"systemd-cgroup" help:"Refused: ns-enter speaks cgroupfs paths, not systemd's slices."`
	Rootless      string           `help:"Accepted for runc's sake; ns-enter runs as root." default:"auto" placeholder:"BOOL"`
	Criu          string           `help:"Accepted for runc's sake; checkpointing is not supported." hidden:""`
	Explain       bool             `help:"Print each step (kernel call and shell equivalent) on stderr." env:"CTRKIT_EXPLAIN"`
	Version       kong.VersionFlag `short:"v" help:"Print the version and the runtime spec version."`
	// Not runc's: ctrkit's store, where compiled seccomp filters are kept
	// (ROOT/cache/seccomp), from CTRKIT_ROOT as for every ctrkit command.
	Store string `name:"ctrkit-root" hidden:"" default:"/var/lib/ctrkit" env:"CTRKIT_ROOT" type:"path"`

	Create   OCICreateCmd   `cmd:"" help:"Create a container: set it up, its process waiting before execve until start."`
	Start    OCIStartCmd    `cmd:"" help:"Let a created container's process execve."`
	State    OCIStateCmd    `cmd:"" help:"Print a container's state as JSON."`
	Kill     OCIKillCmd     `cmd:"" help:"Send a signal to a container's process (or, with --all, to every process in its cgroup)."`
	Delete   OCIDeleteCmd   `cmd:"" help:"Remove a stopped (or, with --force, any) container and everything made for it."`
	Run      OCIRunCmd      `cmd:"" help:"Create and start a container, and wait for it."`
	Exec     OCIExecCmd     `cmd:"" help:"Run a new process in a running container."`
	Ps       OCIPsCmd       `cmd:"" help:"List the processes in a container's cgroup."`
	Pause    OCIPauseCmd    `cmd:"" help:"Freeze every process of a container (cg-limit freeze)."`
	Resume   OCIResumeCmd   `cmd:"" help:"Thaw a paused container (cg-limit thaw)."`
	Update   OCIUpdateCmd   `cmd:"" help:"Change a running container's limits (cg-limit update)."`
	List     OCIListCmd     `cmd:"" help:"List the containers under --root."`
	Features OCIFeaturesCmd `cmd:"" help:"Print what this runtime supports, as JSON (runtime-spec features)."`
	Spec     OCISpecCmd     `cmd:"" help:"Write a default config.json into the bundle."`
}

func (o *OCI) log() *explain.Log { return explain.New(ociName, os.Stderr, o.Explain || o.Debug) }

// ociMain runs runc's command line with args and exits.
func ociMain(args []string) {
	var o OCI
	// Every call from a shim is a new process: cli.Parse builds kong's
	// model of the one verb asked for, not of all fourteen.
	parser, ctx, err := cli.Parse(&o, args, kong.Name(ociName),
		kong.Description("ns-enter as an OCI runtime: runc's command line, for containerd, dockerd and the runtime-tools validation suite."),
		kong.ShortUsageOnError(),
		kong.Vars{"version": ociName + " version ns-enter (ctrkit)\nspec: " + specs.Version})
	if parser == nil {
		panic(err) // the grammar is wrong: kong.Must's panic
	}
	if err == nil {
		if o.SystemdCgroup {
			err = &cli.ExitError{Code: 1, Err: errors.New("--systemd-cgroup: ns-enter speaks cgroupfs paths (/a/b), not systemd's slice:prefix:name; configure the engine with cgroupfs")}
		} else {
			err = ctx.Run(&o)
		}
	}
	if err != nil {
		o.writeLog(err)
	}
	if ctx == nil {
		parser.FatalIfErrorf(err)
	}
	cli.Exit(ctx, err)
}

// writeLog appends err to --log, in logrus's JSON form for containerd,
// which quotes the last line when the runtime fails.
func (o *OCI) writeLog(err error) {
	var e *cli.ExitError
	if o.LogFile == "" || errors.As(err, &e) && e.Err == nil {
		return
	}
	f, ferr := os.OpenFile(o.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if ferr != nil {
		return
	}
	defer f.Close()
	if o.LogFormat == "json" {
		line, _ := json.Marshal(map[string]string{"level": "error", "msg": err.Error(), "time": time.Now().Format(time.RFC3339Nano)})
		f.Write(append(line, '\n'))
		return
	}
	fmt.Fprintf(f, "time=%q level=error msg=%q\n", time.Now().Format(time.RFC3339Nano), err.Error())
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ociArgs tells whether ns-enter was started as an OCI runtime, and with
// which arguments: through the ctrkit-runc link, or as ns-enter oci.
func ociArgs(argv []string) ([]string, bool) {
	if filepath.Base(argv[0]) == ociName {
		return argv[1:], true
	}
	if len(argv) > 1 && argv[1] == "oci" {
		return argv[2:], true
	}
	return nil, false
}
