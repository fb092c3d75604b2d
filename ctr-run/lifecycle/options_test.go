package lifecycle

import (
	"slices"
	"testing"

	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestCommand checks docker's rule: ENTRYPOINT + CMD, where a CMD on the
// command line replaces the image's CMD and --entrypoint replaces both.
func TestCommand(t *testing.T) {
	empty, sh := "", "/bin/sh"
	image := []string{"/docker-entrypoint.sh"}
	tests := []struct {
		name string
		o    Options
		want []string
	}{
		{"image defaults", Options{}, nil},
		{"new CMD", Options{Cmd: []string{"nginx", "-g", "daemon off;"}}, []string{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"}},
		{"--entrypoint", Options{Entrypoint: &sh}, []string{"/bin/sh"}},
		{"--entrypoint and CMD", Options{Entrypoint: &sh, Cmd: []string{"-c", "id"}}, []string{"/bin/sh", "-c", "id"}},
		{"--entrypoint ''", Options{Entrypoint: &empty, Cmd: []string{"true"}}, []string{"true"}},
	}
	for _, tt := range tests {
		if got := tt.o.command(image); !slices.Equal(got, tt.want) {
			t.Errorf("%s: command(%q) = %q, want %q", tt.name, image, got, tt.want)
		}
	}
}

func TestEntrypoint(t *testing.T) {
	s := &specs.Spec{Annotations: map[string]string{spec.ImageEntrypointAnnotation: `["/init","--"]`}}
	if got := Entrypoint(s); !slices.Equal(got, []string{"/init", "--"}) {
		t.Errorf("Entrypoint(%v) = %q, want [/init --]", s.Annotations, got)
	}
	if got := Entrypoint(&specs.Spec{}); got != nil {
		t.Errorf("Entrypoint(no annotation) = %q, want nil", got)
	}
}

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
