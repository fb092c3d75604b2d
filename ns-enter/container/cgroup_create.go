package container

// Making the container's cgroup when the spec asks for one that is not
// there yet.
//
// A runtime spec puts limits in linux.resources (memory, CPU, pids, and
// the device allowlist in linux.resources.devices) and names the cgroup in
// linux.cgroupsPath. In a ctrkit pipeline cg-limit has made that cgroup
// before ns-enter runs, and ns-enter only joins it. But a spec can come
// without one: ns-enter --rootfs DIR starts from spec.Default, which
// carries docker's device allowlist, and so do img-build's RUN steps and
// any runc bundle. runc's rule is that it creates the cgroup itself when
// linux.cgroupsPath is empty or does not exist, applies the resources, and
// removes it again on delete; without that, the device allowlist would
// protect nothing (mknod of the host's disk, then reading it).
//
// ns-enter follows the rule without learning cgroups: the mechanism stays
// in cg-limit, and ns-enter runs it with the spec on stdin, as ctr-run
// does, before anything else, then moves the container's process in once
// it exists (blocked, before it runs anything of its own), as it joins any
// cgroup a spec names:
//
//	cg-limit --name NAME --hold 3 < config.json   # make /ctrkit/NAME
//	echo $PID > …/NAME/cgroup.procs               # in every hierarchy
//	… the container runs in /ctrkit/NAME; cg-limit sleeps on descriptor 3 …
//	echo rm >&3                                   # after it ends: cg-limit rm -f's work
//
// One cg-limit process per container (cg-limit/hold.go says why), started
// first: its start-up and the cgroup's making overlap ns-enter's clone and
// the container's stage 1 starting up.
// A detached container (runc create) closes descriptor 3 by exiting
// instead: the cgroup stays, and delete runs cg-limit rm -f NAME.
//
// NAME is the document's ctrkit.id when it has one (an img-build RUN step
// is ckb-…), else a fresh id.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"ctrkit/internal/explain"
	"ctrkit/internal/hold"
	"ctrkit/internal/ident"
	"ctrkit/internal/sibling"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// makeCgroup starts making the cgroup the spec's linux.resources need,
// when linux.cgroupsPath is empty or names a cgroup that does not exist
// yet, and points linux.cgroupsPath at it; joinCgroup waits until it is
// made and moves the container's process in. The returned function
// removes it again (ending any process the container left behind, as runc
// does); it is a no-op when ns-enter made nothing.
func makeCgroup(log *explain.Log, s *specs.Spec, stderr io.Writer) (remove func(), name string, err error) {
	nothing := func() {}
	if stderr == nil {
		stderr = io.Discard
	}
	if s.Linux == nil || s.Linux.Resources == nil || reflect.ValueOf(*s.Linux.Resources).IsZero() {
		return nothing, "", nil
	}
	// name is cg-limit's NAME for /ctrkit/NAME, or the path itself.
	path := ""
	if p := s.Linux.CgroupsPath; p != "" {
		dirs, err := CgroupDirs(p)
		if err != nil || len(dirs) > 0 {
			return nothing, "", err
		}
		name = filepath.Clean("/" + p)
		path = name
		if rest, ok := strings.CutPrefix(name, "/ctrkit/"); ok && !strings.Contains(rest, "/") {
			name = rest
		}
	}
	if id := s.Annotations[spec.IDAnnotation]; name == "" && ident.Valid(id, 64) {
		name = id
	}
	if name == "" {
		name = spec.NewID()
	}
	if path == "" {
		path = "/ctrkit/" + name // cg-limit's place for a cgroup by name
	}
	// The nodes ns-enter makes in every /dev must be usable whatever the
	// spec's own device list says, as runc appends its AllowedDevices.
	res := *s.Linux.Resources
	if len(res.Devices) > 0 && !hasTail(res.Devices, spec.RuntimeDeviceRules()) {
		res.Devices = append(append([]specs.LinuxDeviceCgroup(nil), res.Devices...), spec.RuntimeDeviceRules()...)
		s.Linux.Resources = &res
	}
	// cg-limit records the cgroup under STATE/ID, ID being the document's
	// ctrkit.id: make it the cgroup's name, so cg-limit rm NAME finds it.
	// It reads no seccomp profile, most of a spec's bytes: it gets none.
	doc := *withoutSeccomp(s)
	doc.Annotations = map[string]string{}
	for k, v := range s.Annotations {
		doc.Annotations[k] = v
	}
	if doc.Annotations[spec.IDAnnotation] == "" {
		doc.Annotations[spec.IDAnnotation] = name
		if strings.HasPrefix(name, "/") {
			doc.Annotations[spec.IDAnnotation] = spec.NewID()
		}
	}
	var in bytes.Buffer
	if err := spec.Write(&in, &doc); err != nil {
		return nothing, "", err
	}
	s.Linux.CgroupsPath = path
	h := &heldCgroup{log: log, name: name, path: path, stderr: stderr}
	h.start(in.Bytes())
	pendingMu.Lock()
	pending[path] = h
	pendingMu.Unlock()
	return h.remove, name, nil
}

// heldCgroup is the cgroup makeCgroup planned and the cg-limit process
// that makes it and holds it.
type heldCgroup struct {
	log    *explain.Log
	name   string
	path   string
	stderr io.Writer
	cmd    *exec.Cmd
	out    io.ReadCloser // cg-limit's stdout: the spec once the cgroup is made
	hold   *hold.Caller  // cg-limit's --hold 3
	done   bool          // made has run
	err    error         // start's failure, or made's
}

// pending are the cgroups makeCgroup started that joinCgroup has not
// joined yet, by linux.cgroupsPath.
var (
	pendingMu sync.Mutex
	pending   = map[string]*heldCgroup{}
)

// isPending reports whether makeCgroup is making the cgroup path.
func isPending(path string) bool {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	return pending[path] != nil
}

// takePending returns (and forgets) the started cgroup at path, if any.
func takePending(path string) *heldCgroup {
	pendingMu.Lock()
	defer pendingMu.Unlock()
	h := pending[path]
	delete(pending, path)
	return h
}

// start runs cg-limit --name NAME --hold 3 with the spec on stdin, and
// returns at once: cg-limit starts and makes the cgroup while ns-enter
// clones the container's process, and made waits for it.
func (h *heldCgroup) start(spec []byte) {
	cgLimit := sibling.Path("cg-limit")
	cmd := exec.Command(cgLimit, "--name", h.name)
	cmd.Stdin = bytes.NewReader(spec)
	cmd.Env = sibling.OneP(os.Environ())
	cmd.Stderr = h.stderr
	var err error
	if h.out, err = cmd.StdoutPipe(); err != nil {
		h.err = err
		return
	}
	if h.hold, err = hold.Give(cmd); err != nil {
		h.err = err
		return
	}
	h.log.Step(fmt.Sprintf("fork(); execve(%q, %q) with the spec on stdin, fd 3 a pipe", cgLimit, append([]string{"cg-limit"}, cmd.Args[1:]...)),
		fmt.Sprintf("cg-limit --name %s < config.json    # linux.resources and no cgroup yet: make it", explain.Quote(h.name)))
	err = cmd.Start()
	h.hold.Started()
	if err != nil {
		h.hold.Leave()
		h.err = fmt.Errorf("the spec has linux.resources and no cgroup yet, so ns-enter runs cg-limit to make one: %w (build it next to ns-enter with make build, or remove linux.resources from the spec)", err)
		return
	}
	h.cmd = cmd
}

// made waits until cg-limit has made the cgroup: when it has printed the
// spec and closed its stdout.
func (h *heldCgroup) made() error {
	if h.done || h.err != nil {
		return h.err
	}
	h.done = true
	var made struct {
		Linux struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	data, _ := io.ReadAll(h.out) // to its end: cg-limit closes stdout once it holds
	if err := json.Unmarshal(data, &made); err != nil || made.Linux.CgroupsPath != h.path {
		h.hold.Leave() // no "rm": cg-limit undid what it made, or made nothing
		werr := h.cmd.Wait()
		h.cmd = nil
		if werr != nil {
			h.err = fmt.Errorf("the spec has linux.resources, so ns-enter made its cgroup with cg-limit --name %s, which failed: %w (its message is above)", h.name, werr)
		} else {
			h.err = fmt.Errorf("cg-limit --name %s printed no spec with linux.cgroupsPath %s: %v", h.name, h.path, err)
		}
	}
	return h.err
}

// remove tells the holding cg-limit to end what is left in the cgroup and
// remove it, and waits until it has.
func (h *heldCgroup) remove() {
	takePending(h.path)
	if h.made() != nil || h.cmd == nil {
		return // never made
	}
	h.log.Step(fmt.Sprintf("write(cg-limit's fd 3, \"rm\"); close; wait(%d)", h.cmd.Process.Pid), "cg-limit rm -f "+explain.Quote(h.name))
	err := h.hold.Rm()
	if werr := h.cmd.Wait(); err == nil {
		err = werr
	}
	h.cmd = nil
	if err == nil {
		return
	}
	// The holding cg-limit is gone (killed with the container's other
	// processes, say): a cg-limit of its own does its work.
	rm := exec.Command(sibling.Path("cg-limit"), "rm", "-f", h.name)
	rm.Stdout, rm.Stderr = io.Discard, h.stderr
	if rerr := rm.Run(); rerr != nil {
		fmt.Fprintf(h.stderr, "ns-enter: removing cgroup %s with cg-limit: %v, then cg-limit rm -f: %v (remove it by hand: cg-limit rm -f %s)\n", h.path, err, rerr, h.name)
	}
}

// hasTail tells whether list ends with tail.
func hasTail(list, tail []specs.LinuxDeviceCgroup) bool {
	return len(list) >= len(tail) && reflect.DeepEqual(list[len(list)-len(tail):], tail)
}
