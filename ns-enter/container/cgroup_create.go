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
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"ctrkit/internal/explain"
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
func makeCgroup(log *explain.Log, s *specs.Spec, stderr io.Writer) (remove func(), name string, err error) {
	nothing := func() {}
	if stderr == nil {
		stderr = io.Discard
	}
	if s.Linux == nil || s.Linux.Resources == nil || reflect.ValueOf(*s.Linux.Resources).IsZero() {
		return nothing, "", nil
	}
	// name is cg-limit's NAME for /ctrkit/NAME, or the path itself.
	if p := s.Linux.CgroupsPath; p != "" {
		dirs, err := CgroupDirs(p)
		if err != nil || len(dirs) > 0 {
			return nothing, "", err
		}
		name = filepath.Clean("/" + p)
		if rest, ok := strings.CutPrefix(name, "/ctrkit/"); ok && !strings.Contains(rest, "/") {
			name = rest
		}
	}
	if id := s.Annotations[spec.IDAnnotation]; name == "" && cgroupName.MatchString(id) {
		name = id
	}
	if name == "" {
		name = spec.NewID()
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
	doc := *s
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
	var in, out, said bytes.Buffer
	if err := spec.Write(&in, &doc); err != nil {
		return nothing, "", err
	}
	cgLimit := sibling.Path("cg-limit")
	cmd := exec.Command(cgLimit, "--name", name)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = &in, &out, io.MultiWriter(stderr, &said)
	log.Step(fmt.Sprintf("fork(); execve(%q, [\"cg-limit\", \"--name\", %q]) with the spec on stdin", cgLimit, name),
		fmt.Sprintf("cg-limit --name %s < config.json    # linux.resources and no cgroup yet: make it", explain.Quote(name)))
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nothing, "", fmt.Errorf("the spec has linux.resources, so ns-enter made its cgroup with cg-limit --name %s, which failed: %w: %s", name, err, bytes.TrimSpace(said.Bytes()))
		}
		return nothing, "", fmt.Errorf("the spec has linux.resources and no cgroup yet, so ns-enter runs cg-limit to make one: %w (build it next to ns-enter with make build, or remove linux.resources from the spec)", err)
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
		return nothing, "", fmt.Errorf("cg-limit --name %s printed no spec with linux.cgroupsPath: %v", name, err)
	}
	s.Linux.CgroupsPath = made.Linux.CgroupsPath
	return remove, name, nil
}

// cgroupName is what cg-limit accepts as a cgroup name under /ctrkit.
var cgroupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// hasTail tells whether list ends with tail.
func hasTail(list, tail []specs.LinuxDeviceCgroup) bool {
	return len(list) >= len(tail) && reflect.DeepEqual(list[len(list)-len(tail):], tail)
}
