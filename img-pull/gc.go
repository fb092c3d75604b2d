package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"ctrkit/internal/cli"
	"ctrkit/internal/lease"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// buildTagPrefix starts the names img-build gives its temporary images
// (img-build/build.TempTagPrefix; commands do not import each other).
const buildTagPrefix = "localhost/ctrkit-build:"

// staleBuildTags removes (or, with dryRun, lists) the temporary names of
// builds that were killed: img-build records each in its lease
// (ROOT/leases/ID.json, kind "build") before tagging it, so a name no live
// build's lease holds is a leftover. A killed build's lease goes too.
func staleBuildTags(st *store.Store, root string, dryRun bool) ([]string, error) {
	dir := filepath.Join(root, "leases")
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
	es, err := st.List()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(e.Name, buildTagPrefix) || held[e.Name] {
			continue
		}
		if !dryRun {
			if _, err := st.Remove(e.Name); err != nil {
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

// printGC prints what gc removed (or would).
func printGC(w io.Writer, tags []string, blobs []v1.Hash, freed int64, dryRun bool) {
	verb, done := "untagged", "removed"
	if dryRun {
		verb, done = "would untag", "would remove"
	}
	for _, t := range tags {
		fmt.Fprintf(w, "%s %s: the img-build that made it no longer runs\n", verb, t)
	}
	if dryRun { // the removed ones are on --explain's transcript
		for _, h := range blobs {
			fmt.Fprintf(w, "%s blob %s\n", done, h)
		}
	}
	fmt.Fprintf(w, "%s %d blobs, %s freed\n", done, len(blobs), human(freed))
}

type GcCmd struct {
	DryRun bool `help:"Only list what gc would remove."`
}

func (c *GcCmd) Run(g *cli.Globals, s *Stdio) error {
	log := g.Log("img-pull", s.Stderr)
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	tags, err := staleBuildTags(st, g.Root, c.DryRun)
	if err != nil {
		return err
	}
	if c.DryRun {
		gone := map[string]bool{}
		for _, t := range tags {
			gone[t] = true
		}
		blobs, size, err := st.Unreferenced(gone)
		if err != nil {
			return err
		}
		printGC(s.Stdout, tags, blobs, size, true)
		return nil
	}
	removed, freed, err := st.GC()
	for _, h := range removed {
		log.Step("unlink blobs/sha256/"+h.Hex, "rm "+st.BlobPath(h))
	}
	if err != nil {
		return err
	}
	printGC(s.Stdout, tags, removed, freed, false)
	return nil
}
