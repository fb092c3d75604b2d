package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"ctrkit/internal/cli"
	"ctrkit/internal/store"
)

type LsCmd struct{}

func (c *LsCmd) Run(g *cli.Globals, s *Stdio) error {
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	es, err := st.List()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(s.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tDIGEST\tPLATFORM\tSIZE")
	for _, e := range es {
		size, plat := "?", "?"
		if img, err := st.ResolveAny(e.Descriptor.Digest.String()); err == nil && img.Config == nil {
			plat = "artifact"
		} else if err == nil {
			n := img.Manifest.Config.Size
			for _, l := range img.Manifest.Layers {
				n += l.Size
			}
			size = human(n)
			plat = img.Config.OS + "/" + img.Config.Architecture
			if img.Config.Variant != "" {
				plat += "/" + img.Config.Variant
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, e.Descriptor.Digest.String()[:19], plat, size)
	}
	return w.Flush()
}

type InspectCmd struct {
	Ref string `arg:"" help:"The image: a name (alpine:3.20) or a manifest digest (sha256:… or its first 12 hex digits)."`
}

func (c *InspectCmd) Run(g *cli.Globals, s *Stdio) error {
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	img, err := st.ResolveAny(c.Ref)
	if err != nil {
		return err
	}
	ann := img.Descriptor.Annotations
	out := struct {
		Name           string          `json:"name"`
		Digest         string          `json:"digest"`
		RegistryDigest string          `json:"registryDigest"`
		ListDigest     string          `json:"listDigest,omitempty"`
		ArtifactType   string          `json:"artifactType,omitempty"`
		Path           string          `json:"path"`
		Manifest       json.RawMessage `json:"manifest"`
		Config         json.RawMessage `json:"config"`
	}{Name: img.Name, Digest: img.Descriptor.Digest.String(), RegistryDigest: ann[store.RegistryDigestAnnotation],
		ListDigest: ann[store.RegistryListAnnotation], Path: st.BlobPath(img.Descriptor.Digest),
		Manifest: img.RawManifest, Config: img.RawConfig}
	if out.RegistryDigest == "" {
		out.RegistryDigest = out.Digest
	}
	if img.Config == nil {
		out.ArtifactType = store.ArtifactType(img.Manifest)
		if !json.Valid(out.Config) {
			out.Config = nil
		}
	}
	enc := json.NewEncoder(s.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type VerifyCmd struct {
	Ref string `arg:"" optional:"" help:"Check only this image (default: every image in the store)."`
}

func (c *VerifyCmd) Help() string {
	return `Like ctr content verify: checks the layout (oci-layout, index.json) and,
for each image, that its manifest, config and every layer have the size
and sha256 their descriptors say, hashing every byte. Prints one line per
problem and exits 1 when there is one.`
}

func (c *VerifyCmd) Run(g *cli.Globals, s *Stdio) error {
	st := &store.Store{Root: g.Root, Dir: filepath.Join(g.Root, "oci")}
	if _, err := os.Stat(st.Dir); err != nil {
		return fmt.Errorf("verify: no image store at %s: %w", st.Dir, err)
	}
	checked, problems, err := st.Verify(c.Ref)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(s.Stdout, p.Err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("verify: %d problems in %s (pull the images named again, or img-pull rm them and img-pull gc)", len(problems), st.Dir)
	}
	fmt.Fprintf(s.Stdout, "ok: %d images, every blob has its size and digest\n", len(checked))
	return nil
}

type RmCmd struct {
	Refs []string `arg:"" help:"The images to remove, by name or manifest digest."`
}

func (c *RmCmd) Run(g *cli.Globals, s *Stdio) error {
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	for _, ref := range c.Refs {
		e, err := st.Remove(ref)
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Stdout, "untagged %s (%s)\n", e.Name, e.Descriptor.Digest)
	}
	fmt.Fprintln(s.Stderr, "img-pull: the blobs stay until `img-pull gc`")
	return nil
}

// human prints a byte count like docker does: 3.4MB.
func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
}
