package lifecycle

import (
	"fmt"
	"slices"
	"strings"
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

func TestPipelineNetwork(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{Network: "bridge"}, "net-bridge attach --id abc --network bridge"},
		{Options{Network: "ov"}, "net-bridge attach --id abc --network ov"},
		{Options{Network: "macvlan", Parent: "eth0"}, "net-bridge attach --id abc --network macvlan --parent eth0"},
	} {
		p := tt.o.Pipeline("abc")
		if got := p.Stages[len(p.Stages)-1].String(); got != tt.want {
			t.Errorf("Pipeline(%+v) net stage = %q, want %q", tt.o, got, tt.want)
		}
	}
}

// TestPipelineHoldsAndSequential: the stages that make something can hold
// it, with the rm command each records; the ones that may download or
// unpack in parallel keep every CPU.
func TestPipelineHoldsAndSequential(t *testing.T) {
	var got []string
	for _, s := range (Options{Image: "busybox"}).Pipeline("abc").Stages {
		got = append(got, fmt.Sprintf("%s rm=%q sequential=%v", s.Command, s.Rm, s.Sequential))
	}
	want := []string{
		`img-pull rm=[] sequential=false`,
		`fs-layer rm=["fs-layer" "rm" "abc"] sequential=false`,
		`cg-limit rm=["cg-limit" "rm" "abc"] sequential=true`,
		`net-bridge rm=["net-bridge" "detach" "abc"] sequential=true`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("Pipeline stages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
