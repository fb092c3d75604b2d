package container

import (
	"fmt"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/ns-enter/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// checkSeccomp compiles the spec's seccomp profile in stage 0, before
// anything is created, so a bad profile leaves nothing behind. Stage 1
// compiles it again to load it.
func checkSeccomp(s *specs.Spec) error {
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return nil
	}
	f, err := seccomp.Compile(s.Linux.Seccomp)
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	f.Release()
	return nil
}

// loadSeccomp installs the spec's seccomp filter in stage 1. See package
// seccomp for when that may happen: right before execve with no_new_privs,
// else while CAP_SYS_ADMIN is still held.
func loadSeccomp(log *explain.Log, s *specs.Spec) error {
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return nil
	}
	f, err := seccomp.Compile(s.Linux.Seccomp)
	if err != nil {
		return fmt.Errorf("linux.seccomp: %w", err)
	}
	defer f.Release()
	if len(f.Skipped) > 0 {
		log.Note("seccomp: this libseccomp cannot name %s; the profile allows them, so they get its default action instead", strings.Join(f.Skipped, ", "))
	}
	log.Step(f.String(), "# no stock shell tool loads a seccomp filter; check it with: grep Seccomp /proc/$$/status")
	return f.Load()
}
