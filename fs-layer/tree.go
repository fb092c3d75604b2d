package main

import (
	"fmt"
	"strings"

	"ctrkit/fs-layer/layer"
	"ctrkit/internal/cli"
	"ctrkit/internal/mermaid"
)

type TreeCmd struct {
	Image   string `arg:"" help:"The image (name or manifest digest)."`
	Mermaid bool   `help:"Print a Mermaid flowchart instead of text."`
}

func (c *TreeCmd) Run(g *cli.Globals, s *Stdio) error {
	images, img, err := layer.OpenImage(g.Root, c.Image)
	if err != nil {
		return err
	}
	ls, err := layer.Layers(img)
	if err != nil {
		return err
	}
	lst, err := layer.OpenStore(g.Root, nil)
	if err != nil {
		return err
	}
	shared := layer.SharedWith(images, img)
	desc := func(l layer.Layer) string {
		s := fmt.Sprintf("%s, %s", short(l.DiffID), human(l.Size))
		if l.History != nil && l.History.CreatedBy != "" {
			s += ", " + trunc(l.History.CreatedBy, 50)
		}
		return s
	}
	out := s.Stdout
	if c.Mermaid {
		f := mermaid.Flowchart{Dir: "BT"}
		for i, l := range ls {
			f.Node(fmt.Sprintf("L%d", l.Index), mermaid.Box, fmt.Sprintf("layer %d (read-only): %s", l.Index, desc(l)))
			if i > 0 {
				f.Edge(fmt.Sprintf("L%d", l.Index-1), "-->", fmt.Sprintf("L%d", l.Index), "")
			}
		}
		f.Node("C", mermaid.Box, "container layer (read-write, one per container)")
		if len(ls) > 0 {
			f.Edge(fmt.Sprintf("L%d", len(ls)), "-->", "C", "")
		}
		f.Node("M", mermaid.Stadium, "merged view: the container's /")
		f.Edge("C", "-->", "M", "")
		_, err := f.WriteTo(out)
		return err
	}
	fmt.Fprintf(out, "%s  %s, %d layers\n", img.Name, short(img.Descriptor.Digest), len(ls))
	fmt.Fprintln(out, "  ┌─ container layer   read-write, one per container: ROOT/containers/ID/upper")
	for i := len(ls) - 1; i >= 0; i-- {
		l := ls[i]
		state := "not unpacked yet"
		if lst.Has(l.ChainID) {
			state = layer.Short(l.ChainID)
		}
		fmt.Fprintf(out, "  ├─ layer %-2d  %s  [%s]", l.Index, desc(l), state)
		if sh := shared[l.ChainID]; len(sh) > 0 {
			fmt.Fprintf(out, "  shared with %s", strings.Join(sh, ", "))
		}
		fmt.Fprintln(out)
	}
	fmt.Fprintln(out, "  └─ (bottom)")
	return nil
}
