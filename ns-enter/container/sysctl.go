package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ctrkit/internal/explain"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// A sysctl is a file under /proc/sys; most describe the whole machine, but
// some belong to a namespace, and only those may a container set: writing
// one of the others would change the host. The rule (runc's too): net.*
// needs a network namespace of the container's own, kernel.msg*, kernel.sem,
// kernel.shm* and fs.mqueue.* an IPC namespace, kernel.hostname and
// kernel.domainname a UTS namespace.
func checkSysctl(s *specs.Spec, p *runPlan) error {
	if s.Linux == nil {
		return nil
	}
	own := func(flag uintptr) bool { return p.clone&flag != 0 || p.joins(flag) }
	for key := range s.Linux.Sysctl {
		var need uintptr
		switch {
		case strings.HasPrefix(key, "net."):
			need = unix.CLONE_NEWNET
		case strings.HasPrefix(key, "kernel.msg"), key == "kernel.sem", strings.HasPrefix(key, "kernel.shm"), strings.HasPrefix(key, "fs.mqueue."):
			need = unix.CLONE_NEWIPC
		case key == "kernel.hostname", key == "kernel.domainname":
			need = unix.CLONE_NEWUTS
		default:
			return fmt.Errorf("linux.sysctl %q is not namespaced: setting it would change the host (a container may set net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, kernel.hostname, kernel.domainname)", key)
		}
		if !own(need) {
			return fmt.Errorf("linux.sysctl %q belongs to a namespace the container does not have of its own: add it to linux.namespaces", key)
		}
	}
	return nil
}

// setSysctl writes the spec's sysctls into the container's /proc/sys, after
// pivot_root and before /proc/sys is made read-only.
func setSysctl(log *explain.Log, sysctl map[string]string) error {
	for key, value := range sysctl {
		path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
		log.Step(fmt.Sprintf("write(%q, %q)", path, value), fmt.Sprintf("sysctl -w %s=%s", key, explain.Quote(value)))
		if err := os.WriteFile(path, []byte(value), 0); err != nil {
			return fmt.Errorf("linux.sysctl %s=%s: %w", key, value, err)
		}
	}
	return nil
}
