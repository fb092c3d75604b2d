package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"ctrkit/fs-layer/layer"
	"ctrkit/fs-layer/overlay"
	"ctrkit/fs-layer/volume"
	"ctrkit/internal/cli"
	"ctrkit/internal/hold"
	"ctrkit/internal/imagespec"
	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type MountCmd struct {
	Image    string   `arg:"" optional:"" help:"The image (name or manifest digest); in a pipe, default: the one img-pull named in the document."`
	Name     string   `help:"Container id (default: the document's ctrkit.id, or a new one)." placeholder:"ID"`
	Volume   []string `short:"v" help:"NAME:/PATH (a named volume, created on first use) or /HOST/DIR:/PATH[:ro] (a bind mount); into the spec's mounts." placeholder:"SPEC"`
	Tmpfs    []string `help:"A tmpfs at PATH[:OPTIONS], into the spec's mounts." placeholder:"PATH"`
	ReadOnly bool     `help:"Mount the root filesystem read-only (root.readonly in a pipe)."`
	Driver   string   `enum:"auto,overlay,copy" default:"auto" help:"overlay, copy (every file copied), or auto: overlay, else copy with a notice."`
	Hold     int      `help:"In a pipe, after printing the spec (and closing stdout), stay and read descriptor FD: the line \"rm\" removes the container's root filesystem as fs-layer rm ID would; end of file without it leaves it (ctr-run --rm holds its stages so)." placeholder:"FD"`
	Userns   string   `help:"Remap ids for a user namespace, MAP as in /proc/PID/uid_map (e.g. \"0 100000 65536\"): the layers are mounted idmapped so root inside owns the image, the upper dir belongs to the outside id, and in a pipe the document gets a user namespace with MAP as its uid and gid map (like dockerd --userns-remap; Linux 5.19)." placeholder:"MAP"`
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

func (c *MountCmd) Run(g *cli.Globals, s *Stdio) error {
	log := g.Log("fs-layer", s.Stderr)
	doc, err := spec.FromStdin(s.Stdin)
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
	var idmap overlay.IDMap
	if c.Userns != "" {
		if idmap, err = overlay.ParseIDMap(c.Userns); err != nil {
			return fmt.Errorf("--userns: %w", err)
		}
	}
	id, err := containerID(doc, c.Name)
	if err != nil {
		return err
	}
	mounts, vols, err := volume.Mounts(g.Root, c.Volume, c.Tmpfs, func(dir string) {
		log.Step(fmt.Sprintf("mkdir(%q)", dir), "mkdir -p "+dir)
		if c.Userns != "" {
			// A new volume belongs to the remapped root, as docker makes it.
			log.Step(fmt.Sprintf("chown(%q, %d, %d)", dir, idmap.Outside, idmap.Outside), fmt.Sprintf("chown %d:%d %s", idmap.Outside, idmap.Outside, dir))
			os.Chown(dir, int(idmap.Outside), int(idmap.Outside))
		}
	})
	if err != nil {
		return err
	}

	img, _, layers, err := layer.UnpackImage(g.Root, ref, log)
	if err != nil {
		return err
	}
	driver := c.Driver
	if driver == "auto" {
		driver = ""
	}
	// In a pipe, the mount is recorded before it is made: an fs-layer
	// killed in between leaves a record whose undo (fs-layer rm ID)
	// removes whatever it got to.
	_, mountpoint := overlay.Dirs(g.Root, g.State, id)
	recorded := false
	if doc != nil && !spec.Recorded(g.State, id, "fs-layer", mountpoint) {
		if err := spec.Record(doc, g.State, spec.Resource{Stage: "fs-layer", Kind: "mount", Name: mountpoint,
			Undo: []string{"fs-layer", "rm", id}}); err != nil {
			return err
		}
		recorded = true
	}
	ctr, err := overlay.New(overlay.Setup{Root: g.Root, State: g.State, ID: id, Image: img.Name,
		Manifest: img.Descriptor.Digest.String(), Layers: layers, Driver: driver,
		ReadOnly: c.ReadOnly && doc == nil, Volumes: vols, Userns: c.Userns, Log: log,
		Notice: func(msg string) { fmt.Fprintln(s.Stderr, "fs-layer: "+msg) }})
	if err != nil {
		if recorded {
			spec.Forget(g.State, id, "fs-layer", mountpoint)
		}
		return err
	}
	if doc == nil {
		if len(mounts) > 0 {
			fmt.Fprintln(s.Stderr, "fs-layer: note: -v and --tmpfs only reach a container through a pipe (… | fs-layer mount -v … | ns-enter), which mounts them")
		}
		if err := ctr.Save(); err != nil {
			return err
		}
		fmt.Fprintln(s.Stdout, ctr.Mountpoint)
		return nil
	}
	if doc.Root == nil {
		doc.Root = &specs.Root{}
	}
	doc.Root.Path = ctr.Mountpoint
	if c.Userns != "" {
		remap(doc, idmap)
	}
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
	if u := doc.Annotations[spec.ImageUserAnnotation]; u != "" {
		ids, err := imagespec.Resolve(ctr.Mountpoint, u)
		if err != nil {
			overlay.Unmount(log, ctr.Mountpoint)
			return err
		}
		if doc.Process == nil {
			doc.Process = &specs.Process{}
		}
		ids.Apply(doc.Process)
	}
	if err := spec.Write(s.Stdout, doc); err != nil {
		return err
	}
	// The next stages have the document (its end of file) and work while
	// the record's fsync waits for the disk; ctr-run still waits for it,
	// through the mark hold.Wait writes, which measured faster than
	// letting it overlap ns-enter's start (docs/bench.md).
	if cl, ok := s.Stdout.(io.Closer); ok {
		cl.Close()
	}
	if err := ctr.Save(); err != nil || c.Hold == 0 {
		return err
	}
	if rm, err := hold.Wait(s.Stdout, s.Stderr, c.Hold); err != nil || !rm { // internal/hold
		return err
	}
	return (&RmCmd{IDs: []string{id}}).Run(g, s)
}

// containerID is the container's id: --name, else the document's, else a
// new one. A --name that differs from the document's id is an error; one
// the document lacks is written into it.
func containerID(doc *specs.Spec, name string) (string, error) {
	id := name
	if doc != nil {
		have := doc.Annotations[spec.IDAnnotation]
		switch {
		case id == "":
			id = spec.ID(doc)
		case have != "" && have != id:
			return "", fmt.Errorf("--name %s: the document already names the container %s", id, have)
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
	return id, overlay.CheckID(id)
}

// remap gives the document a new user namespace with m as its uid and gid
// map: the runtime (ns-enter) makes it.
func remap(doc *specs.Spec, m overlay.IDMap) {
	if doc.Linux == nil {
		doc.Linux = &specs.Linux{}
	}
	l := specs.LinuxIDMapping{ContainerID: m.Inside, HostID: m.Outside, Size: m.Count}
	doc.Linux.UIDMappings = []specs.LinuxIDMapping{l}
	doc.Linux.GIDMappings = []specs.LinuxIDMapping{l}
	for _, ns := range doc.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return
		}
	}
	doc.Linux.Namespaces = append(doc.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
}
