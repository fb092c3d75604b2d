package volume

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestParse(t *testing.T) {
	host := t.TempDir()
	for _, tc := range []struct {
		arg  string
		want Spec
	}{
		{"data:/data", Spec{Name: "data", Dest: "/data"}},
		{"data:/data/:ro", Spec{Name: "data", Dest: "/data", ReadOnly: true}},
		{host + ":/h:rw", Spec{Source: host, Dest: "/h"}},
		{host + ":/h:ro", Spec{Source: host, Dest: "/h", ReadOnly: true}},
	} {
		got, err := Parse(tc.arg)
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %+v, %v, want %+v", tc.arg, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ arg, want string }{
		{"data", "want NAME:/PATH"},
		{"data:/d:rx", `not "rx"`},
		{"data:rel", "must be absolute"},
		{"/no/such/dir:/d", "bind source"},
		{"bad name:/d", "neither a host path"},
	} {
		if _, err := Parse(tc.arg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.arg, err, tc.want)
		}
	}
}

func TestTmpfs(t *testing.T) {
	for arg, want := range map[string][]string{
		"/run":                   {"nosuid", "nodev", "mode=1777"},
		"/run/:size=64m":         {"nosuid", "nodev", "size=64m", "mode=1777"},
		"/run:size=1m,mode=0700": {"nosuid", "nodev", "size=1m", "mode=0700"},
	} {
		m, err := Tmpfs(arg)
		if err != nil || m.Destination != "/run" || m.Type != "tmpfs" || !reflect.DeepEqual(m.Options, want) {
			t.Errorf("Tmpfs(%q) = %+v, %v, want /run with %v", arg, m, err, want)
		}
	}
	if _, err := Tmpfs("run"); err == nil {
		t.Errorf("Tmpfs(run) = nil error, want must be absolute")
	}
}

func TestLifecycle(t *testing.T) {
	root := t.TempDir()
	v, created, err := Create(root, "data")
	if err != nil || !created || v.Mountpoint != filepath.Join(root, "volumes", "data", "_data") {
		t.Fatalf("Create(data) = %+v, %v, %v", v, created, err)
	}
	if _, created, err := Create(root, "data"); err != nil || created {
		t.Errorf("Create(data) again = created %v, %v; want false, nil", created, err)
	}
	if _, _, err := Create(root, "../evil"); err == nil {
		t.Errorf("Create(../evil) = nil error, want an invalid name")
	}
	os.WriteFile(filepath.Join(v.Mountpoint, "f"), []byte("abc"), 0o644)
	vs, err := List(root)
	if err != nil || len(vs) != 1 || vs[0].Name != "data" || vs[0].Size != 3 {
		t.Errorf("List = %+v, %v; want data of 3 bytes", vs, err)
	}
	if s := v.String(); !strings.Contains(s, `"Name": "data"`) && !strings.Contains(s, `"name": "data"`) {
		t.Errorf("String() = %s, want the name in JSON", s)
	}
	if err := Remove(root, "data"); err != nil {
		t.Errorf("Remove(data) = %v", err)
	}
	if err := Remove(root, "data"); err == nil {
		t.Errorf("Remove(data) again = nil, want no such volume")
	}
}

func TestMounts(t *testing.T) {
	root, host := t.TempDir(), t.TempDir()
	var made []string
	ms, names, err := Mounts(root, []string{"data:/data", host + ":/h:ro"}, []string{"/tmp"}, func(d string) { made = append(made, d) })
	if err != nil {
		t.Fatalf("Mounts = %v", err)
	}
	vol := filepath.Join(root, "volumes", "data", "_data")
	want := []specs.Mount{
		{Destination: "/data", Type: "bind", Source: vol, Options: []string{"rbind", "rw"}},
		{Destination: "/h", Type: "bind", Source: host, Options: []string{"rbind", "ro"}},
		{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=1777"}},
	}
	if !reflect.DeepEqual(ms, want) || !reflect.DeepEqual(names, []string{"data"}) || !reflect.DeepEqual(made, []string{vol}) {
		t.Errorf("Mounts = %+v, %v (created %v); want %+v, [data] (created %s)", ms, names, made, want, vol)
	}
	if _, _, err := Mounts(root, []string{"data:/data"}, nil, func(d string) { t.Errorf("created %s again", d) }); err != nil {
		t.Errorf("Mounts again = %v", err)
	}
	for _, tc := range [][2][]string{{{"x"}, nil}, {nil, {"rel"}}} {
		if _, _, err := Mounts(root, tc[0], tc[1], nil); err == nil {
			t.Errorf("Mounts(%q, %q) = nil error, want one", tc[0], tc[1])
		}
	}
}
