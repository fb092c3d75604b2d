package spec

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// allowed lists the names the profile allows without conditions.
func allowed(p *specs.LinuxSeccomp) []string {
	var names []string
	for _, sc := range p.Syscalls {
		if sc.Action == specs.ActAllow && len(sc.Args) == 0 {
			names = append(names, sc.Names...)
		}
	}
	return names
}

func TestDefaultSeccomp(t *testing.T) {
	s := Default("rootfs", []string{"sh"})
	p := s.Linux.Seccomp
	if p == nil || p.DefaultAction != specs.ActErrno {
		t.Fatalf("Default().Linux.Seccomp = %+v, want docker's profile (default SCMP_ACT_ERRNO)", p)
	}
	for _, name := range []string{"read", "execve", "capset"} {
		if !slices.Contains(allowed(p), name) {
			t.Errorf("Default(): %q not allowed, want it allowed", name)
		}
	}
	for _, name := range []string{"mount", "unshare", "setns", "keyctl"} {
		if slices.Contains(allowed(p), name) {
			t.Errorf("Default(): %q allowed with docker's capabilities, want it blocked", name)
		}
	}
	// With CAP_SYS_ADMIN, as docker --cap-add SYS_ADMIN, mount is allowed.
	s.Process.Capabilities.Bounding = append(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN")
	if got := allowed(DefaultSeccomp(s)); !slices.Contains(got, "mount") {
		t.Errorf("DefaultSeccomp(with CAP_SYS_ADMIN): mount not allowed, want it allowed")
	}
	// A spec without capabilities gets the profile for none.
	if p := DefaultSeccomp(&specs.Spec{}); p == nil || slices.Contains(allowed(p), "mount") {
		t.Errorf("DefaultSeccomp(no process) = %v, want the profile without CAP_SYS_ADMIN's calls", p)
	}
}
