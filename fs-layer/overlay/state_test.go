package overlay

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestVolumeUserAndWhich(t *testing.T) {
	root, state := t.TempDir(), t.TempDir()
	for id, vols := range map[string][]string{"a": {"data"}, "b": nil} {
		dir, mp := Dirs(root, state, id)
		os.MkdirAll(filepath.Join(dir, "upper"), 0o755)
		c := Container{ID: id, Dir: dir, Mountpoint: mp, Volumes: vols}
		b, _ := json.Marshal(c)
		os.WriteFile(filepath.Join(dir, "container.json"), b, 0o644)
	}
	if got := VolumeUser(root, state, "data"); got != "a" {
		t.Errorf("VolumeUser(data) = %q, want a", got)
	}
	if got := VolumeUser(root, state, "other"); got != "" {
		t.Errorf("VolumeUser(other) = %q, want none", got)
	}
	c, err := Load(root, state, "a")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(c.Upper(), "f"), nil, 0o644)
	if f, err := c.Which("/f"); err != nil || f == nil || f.Layer != 0 {
		t.Errorf("Which(/f) = %+v, %v; want the upper dir (layer 0)", f, err)
	}
	if f, err := c.Which("/g"); err != nil || f != nil {
		t.Errorf("Which(/g) = %+v, %v; want nil", f, err)
	}
}
