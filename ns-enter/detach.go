package main

// ns-enter run --detach: ns-enter leaves once the container runs.
//
// Without it ns-enter stays the container's parent for the container's
// life: it waits for the process, passes signals on and returns its exit
// status. That is a whole Go process (about 8 MiB resident) per container
// doing nothing. runc run -d (and runc create/start) leaves instead, and the
// caller, a shim such as containerd-shim or conmon, has made itself a child
// subreaper (prctl(PR_SET_CHILD_SUBREAPER, 1)): when ns-enter exits, the
// kernel hands its orphaned child, the container's init, to the nearest
// subreaper above it rather than to PID 1, and the shim reaps it with
// wait4 and gets its exit status. ctr-run -d's supervisor does that.
//
// What ns-enter would have done after the process ends is then the
// caller's: the poststop hooks (none here: ctr-run's documents have no
// hooks) and removing a cgroup ns-enter had to make itself (none when
// cg-limit made it in the pipeline: it is reported, so it is not lost).

import (
	"errors"
	"fmt"

	"ctrkit/internal/exitcode"
	"ctrkit/ns-enter/container"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runOrDetach runs the spec to its end, or with o.Detach returns 0 once
// its process runs.
func runOrDetach(s *specs.Spec, o container.Options) (int, error) {
	if !o.Detach {
		return container.Run(s, o)
	}
	if s.Process != nil && s.Process.Terminal {
		return 125, errors.New("--detach with -t: once ns-enter leaves, nobody holds the terminal's master end; leave out --detach, or use ctrkit-runc create --console-socket")
	}
	p, err := container.Start(s, o)
	if err != nil {
		var e *exitcode.Error
		if errors.As(err, &e) {
			return e.Code, err
		}
		return 125, err
	}
	o.Log.Note("the container's process %d runs; ns-enter leaves it to its subreaper", p.Pid)
	if p.CgroupMade != "" {
		fmt.Fprintf(o.Stderr, "ns-enter: the cgroup %s made for the container stays after it ends: remove it then with cg-limit rm -f %s\n", p.CgroupMade, p.CgroupMade)
	}
	return 0, nil
}
