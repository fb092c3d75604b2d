package spec

import (
	"os"
	"path/filepath"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
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
		CleanState(state, tc.id, "fs-layer")
		_, err := os.Stat(dir)
		if gone := os.IsNotExist(err); gone != tc.gone {
			t.Errorf("CleanState(%s): removed = %v, want %v", tc.id, gone, tc.gone)
		}
	}
	CleanState(state, "missing", "fs-layer") // no panic, nothing to do
}

// TestForgetStage: net-bridge detach forgets all of its entries at once,
// keeps the others', and the last one out removes the directory.
func TestForgetStage(t *testing.T) {
	state := t.TempDir()
	doc := &specs.Spec{}
	id := ID(doc)
	for _, r := range []Resource{
		{Stage: "net-bridge", Kind: "link", Name: "veth1"},
		{Stage: "cg-limit", Kind: "cgroup", Name: "/ctrkit/" + id},
		{Stage: "net-bridge", Kind: "address", Name: "10.0.0.2"},
	} {
		if err := Record(doc, state, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ForgetStage(state, id, "net-bridge"); err != nil {
		t.Fatal(err)
	}
	rs, err := StateResources(state, id)
	if err != nil || len(rs) != 1 || rs[0].Stage != "cg-limit" {
		t.Errorf("after ForgetStage(net-bridge): StateResources = %v, %v; want only cg-limit's", rs, err)
	}
	if err := ForgetStage(state, id, "net-bridge"); err != nil {
		t.Errorf("ForgetStage again = %v, want nil (nothing to do)", err)
	}
	if err := Forget(state, id, "cg-limit", "/ctrkit/"+id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(state, id)); !os.IsNotExist(err) {
		t.Errorf("after the last Forget: stat STATE/ID = %v, want it gone", err)
	}
	if err := ForgetStage(state, "missing", "net-bridge"); err != nil {
		t.Errorf("ForgetStage(missing) = %v, want nil", err)
	}
}
