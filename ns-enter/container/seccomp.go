package container

import (
	"fmt"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/ns-enter/seccomp"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// compileSeccomp checks the spec's seccomp profile in stage 0, before
// anything is created, so a bad profile leaves nothing behind, and starts
// generating its BPF in the background, while stage 1 starts; the function
// it returns waits for the program (nil without a profile). A program the
// cache has for the same profile is taken as it is (package seccomp,
// cache.go), and a new one is put there.
func compileSeccomp(s *specs.Spec, cache seccomp.Cache) (func() (*seccomp.Program, error), error) {
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return func() (*seccomp.Program, error) { return nil, nil }, nil
	}
	key := cache.Key(s.Linux.Seccomp)
	if p := cache.Get(key); p != nil {
		return func() (*seccomp.Program, error) { return p, nil }, nil
	}
	f, err := seccomp.Compile(s.Linux.Seccomp)
	if err != nil {
		return nil, fmt.Errorf("linux.seccomp: %w", err)
	}
	type result struct {
		p   *seccomp.Program
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer f.Release()
		p, err := f.Program()
		done <- result{p, err}
		if err == nil {
			cache.Put(key, p) // a failure only means compiling again next time
		}
	}()
	return func() (*seccomp.Program, error) {
		r := <-done
		if r.err != nil {
			return nil, fmt.Errorf("linux.seccomp: %w", r.err)
		}
		return r.p, nil
	}, nil
}

// withoutSeccomp is s as stage 1 gets it: its seccomp profile goes
// compiled (initConfig.Seccomp), not as the rules' JSON.
func withoutSeccomp(s *specs.Spec) *specs.Spec {
	if s.Linux == nil || s.Linux.Seccomp == nil {
		return s
	}
	sent, linux := *s, *s.Linux
	linux.Seccomp = nil
	sent.Linux = &linux
	return &sent
}

// loadSeccomp installs the filter stage 0 compiled, in stage 1. See package
// seccomp for when that may happen: right before execve with no_new_privs,
// else while CAP_SYS_ADMIN is still held.
func loadSeccomp(log *explain.Log, p *seccomp.Program) error {
	if p == nil {
		return nil
	}
	if len(p.Skipped) > 0 {
		log.Note("seccomp: this libseccomp cannot name %s; the profile allows them, so they get its default action instead", strings.Join(p.Skipped, ", "))
	}
	log.Step(p.String(), "# no stock shell tool loads a seccomp filter; check it with: grep Seccomp /proc/$$/status")
	return p.Load()
}
