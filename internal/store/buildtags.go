package store

import (
	"path/filepath"
	"strings"

	"ctrkit/internal/lease"
)

// BuildTagPrefix starts the names img-build gives its temporary images
// (localhost/ctrkit-build:ID): img-build tags them, img-pull gc removes the
// ones a killed build left.
const BuildTagPrefix = "localhost/ctrkit-build:"

// StaleBuildTags removes (or, with dryRun, lists) the temporary names of
// builds that were killed: img-build records each in its lease
// (ROOT/leases/ID.json, kind "build") before tagging it, so a name no live
// build's lease holds is a leftover. A killed build's lease goes too.
func (s *Store) StaleBuildTags(dryRun bool) ([]string, error) {
	dir := filepath.Join(s.Root, "leases")
	leases, err := lease.List(dir)
	if err != nil {
		return nil, err
	}
	held := map[string]bool{}
	for _, l := range leases {
		if l.Kind == "build" && l.Held() {
			for _, r := range l.Resources {
				held[strings.TrimPrefix(r, "tag:")] = true
			}
		}
	}
	es, err := s.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(e.Name, BuildTagPrefix) || held[e.Name] {
			continue
		}
		if !dryRun {
			if _, err := s.Remove(e.Name); err != nil {
				return out, err
			}
		}
		out = append(out, e.Name)
	}
	for _, l := range leases {
		if l.Kind == "build" && !l.Held() && !dryRun {
			l.Release()
		}
	}
	return out, nil
}
