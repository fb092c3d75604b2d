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
// in cg-limit's package (ctrkit/cg-limit/cgroup), which ns-enter calls the
// way `cg-limit --name NAME < config.json` would:
//
//	cg-limit --name NAME < config.json     # makes /ctrkit/NAME, prints the spec with linux.cgroupsPath
//	… the container runs in /ctrkit/NAME …
//	cg-limit rm -f NAME                    # after it ends, or when it fails to start
//
// It used to run exactly those two commands; that cost two process starts
// per container, most of `ns-enter run`'s time next to crun (which makes its
// cgroup in-process too). The package is still the one owner of how a
// cgroup is made, limited, recorded and removed; only the exec went.
//
// NAME is the document's ctrkit.id when it has one (an img-build RUN step
// is ckb-…), else a fresh id.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"ctrkit/cg-limit/cgroup"
	"ctrkit/internal/explain"
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
	state := os.Getenv("CTRKIT_STATE")
	if state == "" {
		state = "/run/ctrkit" // cg-limit's default, as the exec'd cg-limit had
	}
	res.Devices = cgroup.AllowNodes(slices.Clone(res.Devices), s.Linux.Devices)
	h, err := cgroup.Detect()
	if err != nil {
		return nothing, "", err
	}
	log.Note("linux.resources and no cgroup yet: making it as cg-limit --name %s < config.json would", name)
	cg, err := h.Create(log, name, &res)
	if err != nil {
		return nothing, "", fmt.Errorf("the spec has linux.resources, so ns-enter makes its cgroup (as cg-limit --name %s would): %w", name, err)
	}
	id := doc.Annotations[spec.IDAnnotation]
	if err := spec.Record(&doc, state, spec.Resource{Stage: "cg-limit", Kind: "cgroup", Name: cg.Path(), Undo: []string{"cg-limit", "rm", name}}); err != nil {
		cg.Remove()
		return nothing, "", err
	}
	remove = func() {
		err := cg.Kill(syscall.SIGKILL)
		if err == nil {
			err = cg.Remove()
		}
		if err == nil {
			err = spec.Forget(state, id, "cg-limit", cg.Path())
		}
		if err != nil {
			fmt.Fprintf(stderr, "ns-enter: remove cgroup %s: %v (remove it by hand: cg-limit rm -f %s)\n", cg.Path(), err, name)
		}
	}
	s.Linux.Resources = &res
	s.Linux.CgroupsPath = cg.Path()
	return remove, name, nil
}

// cgroupName is what cg-limit accepts as a cgroup name under /ctrkit.
var cgroupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// hasTail tells whether list ends with tail.
func hasTail(list, tail []specs.LinuxDeviceCgroup) bool {
	return len(list) >= len(tail) && reflect.DeepEqual(list[len(list)-len(tail):], tail)
}
