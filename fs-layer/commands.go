package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"ctrkit/fs-layer/layer"
	"ctrkit/fs-layer/overlay"
	"ctrkit/fs-layer/volume"
	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type MountCmd struct {
	Image    string   `arg:"" optional:"" help:"The image (name or manifest digest); in a pipe, default: the one img-pull named in the document."`
	Name     string   `help:"Container id (default: the document's ctrkit.id, or a new one)." placeholder:"ID"`
	Volume   []string `short:"v" help:"NAME:/PATH (a named volume, created on first use) or /HOST/DIR:/PATH[:ro] (a bind mount); into the spec's mounts." placeholder:"SPEC"`
	Tmpfs    []string `help:"A tmpfs at PATH[:OPTIONS], into the spec's mounts." placeholder:"PATH"`
	ReadOnly bool     `help:"Mount the root filesystem read-only (root.readonly in a pipe)."`
	Driver   string   `enum:"auto,overlay,copy" default:"auto" help:"overlay, copy (every file copied), or auto: overlay, else copy with a notice."`
}

func (c *MountCmd) Help() string {
	return `Unpacks every layer of the image not yet in the layer store (each once,
into ROOT/layers/<chain id>/diff, verifying its diff id), then stacks them:

  cd ROOT/layers
  mount -t overlay overlay \
    -o lowerdir=l/TOP:…:l/BOTTOM,upperdir=ROOT/containers/ID/upper,workdir=ROOT/containers/ID/work \
    STATE/ID/rootfs

The layers stay read-only; the container's writes land in its upper dir
(copy-on-write). The short l/… names keep the option string under
mount(2)'s one-page limit for deep images.

Standalone it prints the mount point. In a pipe (a runtime spec on stdin) it
sets root.path, adds -v/--tmpfs mounts to "mounts" (the runtime mounts
them), records the mount for cleanup (undo: fs-layer rm ID), resolves an
image USER given by name through the image's /etc/passwd, and prints the
document.`
}

func (c *MountCmd) Run(g *cli.Globals) error {
	log := g.Log("fs-layer", os.Stderr)
	doc, err := spec.FromStdin(os.Stdin)
	if err != nil {
		return err
	}
	ref := c.Image
	if ref == "" && doc != nil {
		ref = doc.Annotations[spec.ImageDigestAnnotation]
		if ref == "" {
			ref = doc.Annotations[spec.ImageNameAnnotation]
		}
	}
	if ref == "" {
		return errors.New("no image: give one (fs-layer mount busybox:latest), or pipe in a document from img-pull")
	}
	id := c.Name
	if doc != nil {
		have := doc.Annotations[spec.IDAnnotation]
		switch {
		case id == "":
			id = spec.ID(doc)
		case have != "" && have != id:
			return fmt.Errorf("--name %s: the document already names the container %s", id, have)
		default:
			if doc.Annotations == nil {
				doc.Annotations = map[string]string{}
			}
			doc.Annotations[spec.IDAnnotation] = id
		}
	}
	if id == "" {
		id = spec.NewID()
	}
	if err := overlay.CheckID(id); err != nil {
		return err
	}
	var mounts []specs.Mount
	var vols []string
	for _, arg := range c.Volume {
		v, err := volume.Parse(arg)
		if err != nil {
			return err
		}
		if v.Name != "" {
			vol, created, err := volume.Create(g.Root, v.Name)
			if err != nil {
				return err
			}
			if created {
				log.Step(fmt.Sprintf("mkdir(%q)", vol.Mountpoint), "mkdir -p "+vol.Mountpoint)
			}
			v.Source = vol.Mountpoint
			vols = append(vols, v.Name)
		}
		mounts = append(mounts, v.Mount())
	}
	for _, arg := range c.Tmpfs {
		m, err := volume.Tmpfs(arg)
		if err != nil {
			return err
		}
		mounts = append(mounts, m)
	}

	img, _, layers, err := unpackImage(g.Root, ref, log)
	if err != nil {
		return err
	}
	driver := c.Driver
	if driver == "auto" {
		driver = ""
	}
	ctr, err := overlay.New(overlay.Setup{Root: g.Root, State: g.State, ID: id, Image: img.Name,
		Manifest: img.Descriptor.Digest.String(), Layers: layers, Driver: driver,
		ReadOnly: c.ReadOnly && doc == nil, Volumes: vols, Log: log,
		Notice: func(s string) { fmt.Fprintln(os.Stderr, "fs-layer: "+s) }})
	if err != nil {
		return err
	}
	if doc == nil {
		if len(mounts) > 0 {
			fmt.Fprintln(os.Stderr, "fs-layer: note: -v and --tmpfs only reach a container through a pipe (… | fs-layer mount -v … | ns-enter), which mounts them")
		}
		fmt.Println(ctr.Mountpoint)
		return nil
	}
	if doc.Root == nil {
		doc.Root = &specs.Root{}
	}
	doc.Root.Path = ctr.Mountpoint
	doc.Root.Readonly = c.ReadOnly
	for _, m := range mounts {
		kept := doc.Mounts[:0]
		for _, old := range doc.Mounts {
			if filepath.Clean(old.Destination) != m.Destination {
				kept = append(kept, old)
			}
		}
		doc.Mounts = append(kept, m)
	}
	if err := resolveUser(doc, ctr.Mountpoint); err != nil {
		overlay.Unmount(log, ctr.Mountpoint)
		return err
	}
	if err := spec.Record(doc, g.State, spec.Resource{Stage: "fs-layer", Kind: "mount", Name: ctr.Mountpoint,
		Undo: []string{"fs-layer", "rm", id}}); err != nil {
		return err
	}
	return spec.Write(os.Stdout, doc)
}

// resolveUser turns an image USER given by name (annotation
// ctrkit.image.user, "name[:group]") into numbers from the image's own
// /etc/passwd and /etc/group, read through os.Root so a symlink in the
// image cannot point the lookup at the host's files.
func resolveUser(doc *specs.Spec, rootfs string) error {
	u := doc.Annotations[spec.ImageUserAnnotation]
	if u == "" {
		return nil
	}
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer r.Close()
	name, group, hasGroup := strings.Cut(u, ":")
	lookup := func(file, key string) (uint32, uint32, bool) {
		f, err := r.Open(file)
		if err != nil {
			return 0, 0, false
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Split(sc.Text(), ":")
			if len(fs) >= 3 && fs[0] == key {
				id, _ := strconv.ParseUint(fs[2], 10, 32)
				gid := uint64(0)
				if len(fs) >= 4 {
					gid, _ = strconv.ParseUint(fs[3], 10, 32)
				}
				return uint32(id), uint32(gid), true
			}
		}
		return 0, 0, false
	}
	if doc.Process == nil {
		doc.Process = &specs.Process{}
	}
	uid, gid, ok := lookup("etc/passwd", name)
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		uid, ok = uint32(n), true
	}
	if !ok {
		return fmt.Errorf("image USER %q: no such user in the image's /etc/passwd", u)
	}
	if hasGroup {
		if n, err := strconv.ParseUint(group, 10, 32); err == nil {
			gid = uint32(n)
		} else if g, _, ok := lookup("etc/group", group); ok {
			gid = g
		} else {
			return fmt.Errorf("image USER %q: no group %q in the image's /etc/group", u, group)
		}
	}
	doc.Process.User.UID, doc.Process.User.GID = uid, gid
	return nil
}

type UmountCmd struct {
	ID string `arg:"" help:"The container id."`
}

func (c *UmountCmd) Run(g *cli.Globals) error {
	ctr, err := overlay.Load(g.Root, g.State, c.ID)
	if err != nil {
		return err
	}
	if !ctr.Mounted {
		return fmt.Errorf("container %s is not mounted", c.ID)
	}
	return ctr.Umount(g.Log("fs-layer", os.Stderr))
}

type RmCmd struct {
	IDs   []string `arg:"" name:"id" help:"The container ids."`
	Force bool     `short:"f" help:"No error for a container that does not exist."`
}

func (c *RmCmd) Run(g *cli.Globals) error {
	log := g.Log("fs-layer", os.Stderr)
	for _, id := range c.IDs {
		ctr, err := overlay.Load(g.Root, g.State, id)
		if err != nil {
			if c.Force {
				continue
			}
			return err
		}
		if err := ctr.Remove(log); err != nil {
			return err
		}
		cleanState(g.State, id)
	}
	return nil
}

// cleanState removes STATE/ID when it holds nothing but the resource list
// and every resource in it is fs-layer's: the other stages clean their own.
func cleanState(state, id string) {
	dir := filepath.Join(state, id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.Name() != "resources.json" && e.Name() != ".lock" && e.Name() != ".resources.json.tmp" {
			return
		}
	}
	rs, err := spec.StateResources(state, id)
	if err != nil {
		return
	}
	for _, r := range rs {
		if r.Stage != "fs-layer" {
			return
		}
	}
	os.RemoveAll(dir)
}

type LsCmd struct{}

func (c *LsCmd) Run(g *cli.Globals) error {
	ids, err := overlay.List(g.Root)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tIMAGE\tLAYERS\tDRIVER\tMOUNTED\tROOTFS\tVOLUMES")
	for _, id := range ids {
		ctr, err := overlay.Load(g.Root, g.State, id)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fs-layer: %v\n", err)
			continue
		}
		vols := strings.Join(ctr.Volumes, ",")
		if vols == "" {
			vols = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%v\t%s\t%s\n", id, store.ShortName(ctr.Image), len(ctr.Chain), ctr.Driver, ctr.Mounted, ctr.Mountpoint, vols)
	}
	return w.Flush()
}

type WhichCmd struct {
	ID   string `arg:"" help:"The container id."`
	Path string `arg:"" help:"A path inside the container, e.g. /etc/passwd."`
}

func (c *WhichCmd) Help() string {
	return `Looks the path up the way overlayfs does: the container's upper dir first,
then each image layer from the top; the first that has the name provides
it, a whiteout (character device 0/0) means deleted, and an opaque
directory hides the layers below it.`
}

func (c *WhichCmd) Run(g *cli.Globals) error {
	ctr, err := overlay.Load(g.Root, g.State, c.ID)
	if err != nil {
		return err
	}
	if ctr.Driver == overlay.DriverCopy {
		return fmt.Errorf("container %s uses the copy driver: its files are copies, not layers", c.ID)
	}
	dirs := []string{ctr.Upper()}
	lds := ctr.LayerDirs()
	for i := len(lds) - 1; i >= 0; i-- {
		dirs = append(dirs, lds[i])
	}
	f, err := overlay.Which(dirs, c.Path)
	if err != nil {
		return err
	}
	if f == nil {
		return &cli.ExitError{Code: 1, Err: fmt.Errorf("%s: not in container %s", c.Path, c.ID)}
	}
	where := "the container layer (read-write)"
	if f.Layer > 0 {
		n := len(lds) - f.Layer + 1
		where = fmt.Sprintf("layer %d of %d (%s)", n, len(lds), ctr.DiffIDs[n-1])
	}
	if f.Deleted {
		// Like a path that is not there at all: status 1.
		fmt.Printf("%s: deleted by a whiteout in %s: %s\n", c.Path, where, f.Path)
		return &cli.ExitError{Code: 1}
	}
	fmt.Printf("%s: %s: %s\n", c.Path, where, f.Path)
	return nil
}

type TreeCmd struct {
	Image   string `arg:"" help:"The image (name or manifest digest)."`
	Mermaid bool   `help:"Print a Mermaid flowchart instead of text."`
}

func (c *TreeCmd) Run(g *cli.Globals) error {
	images, img, err := openImage(g.Root, c.Image)
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
	// Which other images share each layer (same chain id)?
	shared := map[v1.Hash][]string{}
	if es, err := images.List(); err == nil {
		for _, e := range es {
			if e.Name == img.Name {
				continue
			}
			other, err := images.Resolve(e.Descriptor.Digest.String())
			if err != nil {
				continue
			}
			ols, err := layer.Layers(other)
			if err != nil {
				continue
			}
			for _, l := range ols {
				shared[l.ChainID] = append(shared[l.ChainID], store.ShortName(e.Name))
			}
		}
	}
	desc := func(l layer.Layer) string {
		s := fmt.Sprintf("%s, %s", short(l.DiffID), human(l.Size))
		if l.History != nil && l.History.CreatedBy != "" {
			s += ", " + trunc(l.History.CreatedBy, 50)
		}
		return s
	}
	if c.Mermaid {
		fmt.Println("flowchart BT")
		for i, l := range ls {
			fmt.Printf("  L%d[\"layer %d (read-only)<br/>%s\"]\n", l.Index, l.Index, strings.ReplaceAll(desc(l), `"`, "'"))
			if i > 0 {
				fmt.Printf("  L%d --> L%d\n", l.Index-1, l.Index)
			}
		}
		fmt.Println("  C[\"container layer (read-write, one per container)\"]")
		if len(ls) > 0 {
			fmt.Printf("  L%d --> C\n", len(ls))
		}
		fmt.Println("  C --> M([\"merged view: the container's /\"])")
		return nil
	}
	fmt.Printf("%s  %s, %d layers\n", img.Name, short(img.Descriptor.Digest), len(ls))
	fmt.Println("  ┌─ container layer   read-write, one per container: ROOT/containers/ID/upper")
	for i := len(ls) - 1; i >= 0; i-- {
		l := ls[i]
		state := "not unpacked yet"
		if lst.Has(l.ChainID) {
			state = layer.Short(l.ChainID)
		}
		fmt.Printf("  ├─ layer %-2d  %s  [%s]", l.Index, desc(l), state)
		if s := shared[l.ChainID]; len(s) > 0 {
			fmt.Printf("  shared with %s", strings.Join(dedupe(s), ", "))
		}
		fmt.Println()
	}
	fmt.Println("  └─ (bottom)")
	return nil
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func short(h v1.Hash) string { return h.Algorithm + ":" + h.Hex[:12] }

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

type UnpackCmd struct {
	Image string `arg:"" help:"The image (name or manifest digest)."`
}

func (c *UnpackCmd) Run(g *cli.Globals) error {
	log := g.Log("fs-layer", os.Stderr)
	_, ls, layers, err := unpackImage(g.Root, c.Image, log)
	if err != nil {
		return err
	}
	for _, l := range layers {
		fmt.Println(ls.DiffDir(l.ChainID))
	}
	return nil
}

type DiffCmd struct {
	ID     string `arg:"" help:"The container id."`
	Output string `short:"o" default:"-" help:"Where to write the tar ('-' is stdout)." placeholder:"FILE"`
}

func (c *DiffCmd) Help() string {
	return `Walks the container's upper dir, which holds exactly what the container
changed: new and modified files as they are, deletions as overlay whiteouts
(character devices 0/0), which become empty ".wh.NAME" entries, and
directories overlay marked opaque (trusted.overlay.opaque=y), which get a
".wh..wh..opq" entry. The result is an uncompressed OCI layer tar.`
}

func (c *DiffCmd) Run(g *cli.Globals) error {
	ctr, err := overlay.Load(g.Root, g.State, c.ID)
	if err != nil {
		return err
	}
	if ctr.Driver == overlay.DriverCopy {
		return fmt.Errorf("container %s uses the copy driver: without an upper dir there is no record of its changes", c.ID)
	}
	var w io.Writer = os.Stdout
	if c.Output != "-" {
		f, err := os.Create(c.Output)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	st, err := layer.Diff(ctr.Upper(), w)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "fs-layer: %d entries, %d whiteouts, %d opaque directories\n", st.Entries, st.Whiteouts, st.Opaques)
	return nil
}

type CommitCmd struct {
	ID   string `arg:"" help:"The container id."`
	Name string `arg:"" help:"The new image's name, NAME:TAG."`
}

func (c *CommitCmd) Run(g *cli.Globals) error {
	ctr, err := overlay.Load(g.Root, g.State, c.ID)
	if err != nil {
		return err
	}
	if ctr.Driver == overlay.DriverCopy {
		return fmt.Errorf("container %s uses the copy driver: without an upper dir there is no record of its changes", c.ID)
	}
	full, err := store.Normalize(c.Name)
	if err != nil {
		return err
	}
	images, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	base, err := images.Resolve(ctr.Manifest)
	if err != nil {
		return fmt.Errorf("the image of container %s: %w", c.ID, err)
	}
	ls, err := layer.OpenStore(g.Root, nil)
	if err != nil {
		return err
	}
	res, err := layer.Commit(images, base, ctr.Upper(), ls.TmpDir(), full, "fs-layer commit "+c.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "fs-layer: new layer %s (%d entries, %d whiteouts), diff id %s\n", res.Layer.Digest, res.Stats.Entries, res.Stats.Whiteouts, res.DiffID)
	fmt.Println(res.Manifest.Digest)
	return nil
}

type VolumeCmd struct {
	Create  VolCreateCmd  `cmd:"" help:"Create a named volume."`
	Ls      VolLsCmd      `cmd:"" help:"List named volumes."`
	Rm      VolRmCmd      `cmd:"" help:"Remove named volumes and their content."`
	Inspect VolInspectCmd `cmd:"" help:"Show a volume as JSON."`
}

type VolCreateCmd struct {
	Name string `arg:""`
}

func (c *VolCreateCmd) Run(g *cli.Globals) error {
	v, _, err := volume.Create(g.Root, c.Name)
	if err != nil {
		return err
	}
	fmt.Println(v.Name)
	return nil
}

type VolLsCmd struct{}

func (c *VolLsCmd) Run(g *cli.Globals) error {
	vs, err := volume.List(g.Root)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tSIZE\tMOUNTPOINT")
	for _, v := range vs {
		fmt.Fprintf(w, "%s\t%s\t%s\n", v.Name, human(v.Size), v.Mountpoint)
	}
	return w.Flush()
}

type VolRmCmd struct {
	Names []string `arg:""`
}

func (c *VolRmCmd) Run(g *cli.Globals) error {
	ids, _ := overlay.List(g.Root)
	for _, name := range c.Names {
		for _, id := range ids {
			if ctr, err := overlay.Load(g.Root, g.State, id); err == nil {
				for _, v := range ctr.Volumes {
					if v == name {
						return fmt.Errorf("volume %s is used by container %s (fs-layer rm %s first)", name, id, id)
					}
				}
			}
		}
		if err := volume.Remove(g.Root, name); err != nil {
			return err
		}
		fmt.Println(name)
	}
	return nil
}

type VolInspectCmd struct {
	Name string `arg:""`
}

func (c *VolInspectCmd) Run(g *cli.Globals) error {
	v, err := volume.Inspect(g.Root, c.Name)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// openImage opens the image store under root and finds ref in it.
func openImage(root, ref string) (*store.Store, *store.Image, error) {
	images, err := store.Open(root)
	if err != nil {
		return nil, nil, err
	}
	img, err := images.Resolve(ref)
	if err != nil {
		return nil, nil, err
	}
	return images, img, nil
}

// unpackImage finds ref and unpacks every layer of it the layer store does
// not have yet.
func unpackImage(root, ref string, log *explain.Log) (*store.Image, *layer.Store, []layer.Layer, error) {
	images, img, err := openImage(root, ref)
	if err != nil {
		return nil, nil, nil, err
	}
	ls, err := layer.OpenStore(root, log)
	if err != nil {
		return nil, nil, nil, err
	}
	layers, err := ls.Ensure(images, img, layer.Options{Log: log})
	return img, ls, layers, err
}
