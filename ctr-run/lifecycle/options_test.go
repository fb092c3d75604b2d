package lifecycle

import (
	"testing"

	"ctrkit/internal/spec"
)

func TestPipelineSeedsTheID(t *testing.T) {
	p := Options{Image: "busybox"}.Pipeline("abc123def456")
	s, err := spec.Parse(p.Seed)
	if err != nil || spec.ID(s) != "abc123def456" {
		t.Errorf("Pipeline seed = %s (%v), want a runtime spec with ctrkit.id abc123def456", p.Seed, err)
	}
	if got := p.Stages[0].String(); got != "img-pull --pull missing busybox" {
		t.Errorf("first stage = %q, want %q", got, "img-pull --pull missing busybox")
	}
}
