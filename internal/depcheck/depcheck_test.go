// Package depcheck keeps the rooms of the house honest: each command's
// mechanism packages are libraries that never import the CLI framework,
// never import another command's packages, and ctr-run drives the other
// commands only by executing them.
package depcheck

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Name       string
	Deps       []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Name,Deps", "ctrkit/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var ps []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// command is the top-level folder a package lives in ("ns-enter"), or ""
// for internal/.
func command(path string) string {
	rest := strings.TrimPrefix(path, "ctrkit/")
	first, _, _ := strings.Cut(rest, "/")
	if first == "internal" {
		return ""
	}
	return first
}

func TestRooms(t *testing.T) {
	ps := listPackages(t)
	if len(ps) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, p := range ps {
		from := command(p.ImportPath)
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, "ctrkit/") {
				if p.Name != "main" && !strings.HasPrefix(p.ImportPath, "ctrkit/internal/cli") && strings.HasPrefix(d, "github.com/alecthomas/kong") {
					t.Errorf("%s imports %s: only a command's main package (and internal/cli) may use the CLI framework", p.ImportPath, d)
				}
				continue
			}
			to := command(d)
			if to != "" && to != from {
				t.Errorf("%s imports %s: commands compose by running each other, not by importing", p.ImportPath, d)
			}
			if from == "ctr-run" && to != "" && to != "ctr-run" {
				t.Errorf("%s imports %s: ctr-run only executes its siblings", p.ImportPath, d)
			}
			if from == "" && to != "" {
				t.Errorf("%s imports %s: internal/ is shared and may not depend on one command", p.ImportPath, d)
			}
		}
	}
}
