package overlay

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestCleanState(t *testing.T) {
	state := t.TempDir()
	mk := func(id string, files map[string]string) string {
		dir := filepath.Join(state, id)
		os.MkdirAll(dir, 0o755)
		for name, content := range files {
			os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		}
		return dir
	}
	ours := `[{"stage":"fs-layer","kind":"mount","name":"x","undo":["fs-layer","rm","a"]}]`
	theirs := `[{"stage":"fs-layer","kind":"mount","name":"x"},{"stage":"cg-limit","kind":"cgroup","name":"y"}]`
	for _, tc := range []struct {
		id    string
		files map[string]string
		gone  bool
	}{
		{"only-ours", map[string]string{"resources.json": ours, ".lock": ""}, true},
		{"theirs-too", map[string]string{"resources.json": theirs}, false},
		{"other-file", map[string]string{"resources.json": ours, "config.json": "{}"}, false},
		{"bad-json", map[string]string{"resources.json": "{"}, false},
	} {
		dir := mk(tc.id, tc.files)
		CleanState(state, tc.id)
		_, err := os.Stat(dir)
		if gone := os.IsNotExist(err); gone != tc.gone {
			t.Errorf("CleanState(%s): removed = %v, want %v", tc.id, gone, tc.gone)
		}
	}
	CleanState(state, "missing") // no panic, nothing to do
}

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
