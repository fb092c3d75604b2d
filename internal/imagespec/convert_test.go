package imagespec

import (
	"slices"
	"strings"
	"testing"

	"ctrkit/internal/spec"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestToSpec(t *testing.T) {
	cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{
		Entrypoint:   []string{"/docker-entrypoint.sh"},
		Cmd:          []string{"nginx", "-g", "daemon off;"},
		Env:          []string{"PATH=/bin", "NGINX_VERSION=1.27"},
		WorkingDir:   "/srv",
		User:         "101:102",
		ExposedPorts: map[string]struct{}{"80/tcp": {}, "443/tcp": {}},
		Volumes:      map[string]struct{}{"/data": {}},
		Labels:       map[string]string{"maintainer": "me"},
		StopSignal:   "SIGQUIT",
	}}
	d := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}
	doc := ToSpec(nil, "docker.io/library/nginx:1", d, cfg)
	p := doc.Process
	if got := strings.Join(p.Args, "|"); got != "/docker-entrypoint.sh|nginx|-g|daemon off;" {
		t.Errorf("args = %q", got)
	}
	if p.Cwd != "/srv" || p.User.UID != 101 || p.User.GID != 102 {
		t.Errorf("cwd, uid, gid = %q, %d, %d; want /srv, 101, 102", p.Cwd, p.User.UID, p.User.GID)
	}
	// The image's PATH replaces the default one; TERM and HOME come from the
	// container defaults (spec.Default).
	if got := strings.Join(p.Env, " "); got != "PATH=/bin TERM=xterm HOME=/root NGINX_VERSION=1.27" {
		t.Errorf("env = %q", got)
	}
	if len(doc.Mounts) == 0 || p.Capabilities == nil || !p.NoNewPrivileges {
		t.Errorf("ToSpec(nil, …) has mounts %v, capabilities %v, no_new_privs %v: want the container defaults", doc.Mounts, p.Capabilities, p.NoNewPrivileges)
	}
	if got := doc.Annotations["ctrkit.image.entrypoint"]; got != `["/docker-entrypoint.sh"]` {
		t.Errorf("entrypoint annotation = %q, want %q", got, `["/docker-entrypoint.sh"]`)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.exposedPorts": "443/tcp,80/tcp",
		"ctrkit.image.volumes":                  "/data",
		"maintainer":                            "me",
		"org.opencontainers.image.stopSignal":   "SIGQUIT",
		"org.opencontainers.image.ref.name":     "docker.io/library/nginx:1",
	} {
		if doc.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, doc.Annotations[k], want)
		}
	}
	cfg.Config.User = "nginx"
	if got := doc.Annotations["ctrkit.image.user"]; got != "101:102" {
		t.Errorf("USER annotation = %q, want 101:102 (fs-layer resolves even a numeric USER, as docker)", got)
	}
	cfg.Config.User = "nginx"
	if doc := ToSpec(nil, "x", d, cfg); doc.Annotations["ctrkit.image.user"] != "nginx" || doc.Process.User.UID != 0 {
		t.Errorf("a user name should go to annotation ctrkit.image.user only, got %v, uid %d", doc.Annotations, doc.Process.User.UID)
	}
}

// TestCommand checks docker's rule: ENTRYPOINT + CMD, where a CMD on the
// command line replaces the image's CMD and --entrypoint replaces both.
func TestCommand(t *testing.T) {
	empty, sh := "", "/bin/sh"
	image := []string{"/docker-entrypoint.sh"}
	tests := []struct {
		name       string
		entrypoint *string
		cmd        []string
		want       []string
	}{
		{"image defaults", nil, nil, nil},
		{"new CMD", nil, []string{"nginx", "-g", "daemon off;"}, []string{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"}},
		{"--entrypoint", &sh, nil, []string{"/bin/sh"}},
		{"--entrypoint and CMD", &sh, []string{"-c", "id"}, []string{"/bin/sh", "-c", "id"}},
		{"--entrypoint ''", &empty, []string{"true"}, []string{"true"}},
	}
	for _, tt := range tests {
		if got := Command(image, tt.entrypoint, tt.cmd); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Command(%q, …) = %q, want %q", tt.name, image, got, tt.want)
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
