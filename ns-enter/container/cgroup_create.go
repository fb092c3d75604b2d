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
// in cg-limit, and ns-enter runs it exactly as ctr-run does, with the spec
// on stdin:
//
//	cg-limit --name NAME < config.json     # makes /ctrkit/NAME, prints the spec with linux.cgroupsPath
//	… the container runs in /ctrkit/NAME …
//	cg-limit rm -f NAME                    # after it ends, or when it fails to start
//
// NAME is the document's ctrkit.id when it has one (an img-build RUN step
// is ckb-…), else a fresh id. The cost is two short-lived cg-limit
// processes per container.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/internal/mountinfo"
	"ctrkit/internal/sibling"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// makeCgroup runs cg-limit to create the cgroup the spec's linux.resources
// need, when linux.cgroupsPath is empty or names a cgroup that does not
// exist yet, and points linux.cgroupsPath at it. The returned function
// removes it again (cg-limit rm -f, which also ends any process the
// container left behind, as runc does); it is a no-op when ns-enter made
// nothing.
func makeCgroup(log *explain.Log, s *specs.Spec, stderr io.Writer) (remove func(), err error) {
	nothing := func() {}
	if stderr == nil {
		stderr = io.Discard
	}
	if s.Linux == nil || s.Linux.Resources == nil || reflect.ValueOf(*s.Linux.Resources).IsZero() {
		return nothing, nil
	}
	name := ""
	if p := s.Linux.CgroupsPath; p != "" {
		exists, err := cgroupExists(p)
		if err != nil || exists {
			return nothing, err
		}
		rest, ok := strings.CutPrefix(filepath.Clean("/"+p), "/ctrkit/")
		if !ok || strings.Contains(rest, "/") {
			return nothing, fmt.Errorf("cgroup %q does not exist, and ns-enter makes cgroups (with cg-limit) only as /ctrkit/NAME: create it first, or set linux.cgroupsPath to /ctrkit/NAME or leave it empty", p)
		}
		name = rest
	}
	if id := s.Annotations[spec.IDAnnotation]; name == "" && cgroupName.MatchString(id) {
		name = id
	}
	if name == "" {
		name = spec.NewID()
	}
	// cg-limit records the cgroup under STATE/ID, ID being the document's
	// ctrkit.id: make it the cgroup's name, so cg-limit rm NAME finds it.
	doc := *s
	doc.Annotations = map[string]string{}
	for k, v := range s.Annotations {
		doc.Annotations[k] = v
	}
	if doc.Annotations[spec.IDAnnotation] == "" {
		doc.Annotations[spec.IDAnnotation] = name
	}
	var in, out bytes.Buffer
	if err := spec.Write(&in, &doc); err != nil {
		return nothing, err
	}
	cgLimit := sibling.Path("cg-limit")
	cmd := exec.Command(cgLimit, "--name", name)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &in, &out, stderr
	log.Step(fmt.Sprintf("fork(); execve(%q, [\"cg-limit\", \"--name\", %q]) with the spec on stdin", cgLimit, name),
		fmt.Sprintf("cg-limit --name %s < config.json    # linux.resources and no cgroup yet: make /ctrkit/%s", explain.Quote(name), name))
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nothing, fmt.Errorf("the spec has linux.resources, so ns-enter made its cgroup with cg-limit --name %s, which failed: %w (see its message above)", name, err)
		}
		return nothing, fmt.Errorf("the spec has linux.resources and no cgroup yet, so ns-enter runs cg-limit to make one: %w (build it next to ns-enter with make build, or remove linux.resources from the spec)", err)
	}
	var made struct {
		Linux struct {
			CgroupsPath string `json:"cgroupsPath"`
		} `json:"linux"`
	}
	remove = func() {
		rm := exec.Command(cgLimit, "rm", "-f", name)
		rm.Stdout, rm.Stderr = io.Discard, stderr
		log.Step(fmt.Sprintf("fork(); execve(%q, [\"cg-limit\", \"rm\", \"-f\", %q])", cgLimit, name), "cg-limit rm -f "+explain.Quote(name))
		if err := rm.Run(); err != nil {
			fmt.Fprintf(stderr, "ns-enter: cg-limit rm -f %s: %v (remove it by hand: cg-limit rm -f %s)\n", name, err, name)
		}
	}
	if err := json.Unmarshal(out.Bytes(), &made); err != nil || made.Linux.CgroupsPath == "" {
		remove()
		return nothing, fmt.Errorf("cg-limit --name %s printed no spec with linux.cgroupsPath: %v", name, err)
	}
	s.Linux.CgroupsPath = made.Linux.CgroupsPath
	return remove, nil
}

// cgroupName is what cg-limit accepts as a cgroup name.
var cgroupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// cgroupExists tells whether path is a directory in any mounted cgroup
// hierarchy.
func cgroupExists(path string) (bool, error) {
	ms, err := mountinfo.Read()
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.FSType != "cgroup" && m.FSType != "cgroup2" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(m.Mountpoint, filepath.Clean("/"+path))); err == nil && fi.IsDir() {
			return true, nil
		}
	}
	return false, nil
}
