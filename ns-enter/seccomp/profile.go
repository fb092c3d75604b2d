package seccomp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Parse reads a seccomp profile file, for the spec s: either an OCI
// linux.seccomp object, or docker's profile format (`docker run
// --security-opt seccomp=FILE`), which adds archMap (architectures by the
// host's), and rules that apply only with some capabilities (includes /
// excludes with caps, arches, minKernel). moby's profiles/seccomp package,
// which docker uses, turns the latter into the former for s's bounding
// capabilities and the running kernel and architecture; an OCI object
// passes through it unchanged. Parse only decodes; Compile checks the
// names, actions and architectures.
func Parse(data []byte, s *specs.Spec) (*specs.LinuxSeccomp, error) {
	var v map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&v); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fmt.Errorf("not a JSON seccomp profile: at byte %d: %w", syntax.Offset, err)
		}
		return nil, fmt.Errorf("not a JSON seccomp profile: %w (want an object with defaultAction and syscalls)", err)
	}
	if _, ok := v["defaultAction"]; !ok {
		return nil, errors.New("not a seccomp profile: no \"defaultAction\" field (want an OCI linux.seccomp object or a docker profile, e.g. moby's profiles/seccomp/default.json)")
	}
	// The conversion reads the capabilities for includes/excludes.caps.
	forCaps := *s
	if s.Process == nil || s.Process.Capabilities == nil {
		forCaps.Process = &specs.Process{Capabilities: &specs.LinuxCapabilities{}}
	}
	p, err := profiles.LoadProfile(string(data), &forCaps)
	if err != nil {
		return nil, fmt.Errorf("read the seccomp profile: %w", err)
	}
	return p, nil
}
