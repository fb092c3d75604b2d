package main

import (
	"fmt"
	"io"

	"ctrkit/internal/cli"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

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
	tags, err := st.StaleBuildTags(c.DryRun)
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
