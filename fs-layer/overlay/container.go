package overlay

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"ctrkit/fs-layer/layer"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Setup describes a container to create (New) or mount again.
type Setup struct {
	Root, State string
	ID          string
	Image       string
	Manifest    string
	Layers      []layer.Layer // bottom first, unpacked
	Driver      string        // overlay, copy, or "" for overlay then copy
	ReadOnly    bool
	Volumes     []string
	Userns      string // an id map: layers mounted idmapped (idmap.go)
	Log         *explain.Log
	// Notice receives one line when the copy driver is chosen for lack of
	// overlayfs.
	Notice func(string)
}

// New creates container s.ID's directories and mounts its root file
// system. An existing, unmounted container of the same id and image is
// mounted again with its upper layer as it was. Its record is written but
// not yet durable: the caller calls Save once it has handed the root file
// system on (an fsync waits for the disk, and the next stage need not).
func New(s Setup) (*Container, error) {
	if err := CheckID(s.ID); err != nil {
		return nil, err
	}
	dir, mp := Dirs(s.Root, s.State, s.ID)
	c, err := Load(s.Root, s.State, s.ID)
	switch {
	case err == nil && c.Mounted:
		return nil, fmt.Errorf("container %s is already mounted at %s (fs-layer rm %s first, or pick another --name)", s.ID, c.Mountpoint, s.ID)
	case err == nil && c.Manifest != s.Manifest:
		return nil, fmt.Errorf("container %s exists, made from %s: fs-layer rm %s first, or pick another --name", s.ID, c.Image, s.ID)
	case err == nil:
		s.Log.Note("container %s exists: mounting it again with its upper layer", s.ID)
		c.ReadOnly = s.ReadOnly
	default:
		c = &Container{ID: s.ID, Image: s.Image, Manifest: s.Manifest, Dir: dir, Mountpoint: mp,
			Created: time.Now().UTC(), Driver: s.Driver, ReadOnly: s.ReadOnly, Volumes: s.Volumes, Userns: s.Userns}
		for _, l := range s.Layers {
			c.Chain = append(c.Chain, l.ChainID.String())
			c.DiffIDs = append(c.DiffIDs, l.DiffID.String())
		}
	}
	c.Layers = filepath.Join(s.Root, "layers")
	if err := store.EnsurePrivate(s.Root, "containers"); err != nil {
		return nil, err
	}
	if err := spec.EnsureState(s.State); err != nil {
		return nil, err
	}
	for _, d := range []string{c.Upper(), c.Work(), mp} {
		s.Log.Step(fmt.Sprintf("mkdir(%q, 0755)", d), "mkdir -p "+explain.Quote(d))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	// Recorded before the mount, so that rm and gc find a mount whose
	// process died, and again with the driver the mount chose; Save makes
	// it durable.
	if err := c.saveDraft(); err != nil {
		return nil, err
	}
	if err := c.mount(s.Log, s.Driver, s.Notice); err != nil {
		return nil, err
	}
	return c, c.saveDraft()
}

// LayerDirs are the unpacked layers of c, bottom first.
func (c *Container) LayerDirs() []string {
	var ds []string
	for _, ch := range c.Chain {
		h, _ := v1.NewHash(ch)
		ds = append(ds, filepath.Join(c.Layers, h.Hex, "diff"))
	}
	return ds
}

func (c *Container) shorts() []string {
	var ss []string
	for _, ch := range c.Chain {
		h, _ := v1.NewHash(ch)
		ss = append(ss, layer.Short(h))
	}
	if len(ss) == 0 {
		// An image without layers: overlay needs one lowerdir.
		os.MkdirAll(filepath.Join(c.Layers, "empty"), 0o755)
		ss = []string{"empty"}
	}
	return ss
}

// Mount mounts c again (after Umount).
func (c *Container) Mount(log *explain.Log) error { return c.mount(log, c.Driver, nil) }

func (c *Container) mount(log *explain.Log, driver string, notice func(string)) error {
	if c.Userns != "" {
		return c.mountRemapped(log)
	}
	if driver != DriverCopy {
		// A missing short link would fail the mount and, with the auto
		// driver, silently turn it into a full copy: make it again.
		for _, ch := range c.Chain {
			h, err := v1.NewHash(ch)
			if err != nil {
				return fmt.Errorf("container %s: chain id %q: %w", c.ID, ch, err)
			}
			repaired, err := layer.EnsureLink(c.Layers, h)
			if err != nil {
				return err
			}
			if repaired {
				msg := fmt.Sprintf("the short link %s of layer %s was missing or wrong: made it again (fs-layer gc checks them all)", layer.Short(h), h)
				log.Note("%s", msg)
				if notice != nil {
					notice(msg)
				}
			}
		}
		err := MountOverlay(log, c.Layers, c.shorts(), c.Upper(), c.Work(), c.Mountpoint, c.ReadOnly)
		var me *MountError
		if err == nil || driver == DriverOverlay || !errors.As(err, &me) || errors.Is(err, unix.EPERM) {
			if err == nil {
				c.Driver = DriverOverlay
			}
			return err
		}
		if notice != nil {
			notice(fmt.Sprintf("overlayfs cannot be mounted here (%v): using the copy driver, which copies the whole image for this container", me.Err))
		}
	}
	c.Driver = DriverCopy
	dst := c.CopyRoot()
	if _, err := os.Stat(dst); errors.Is(err, os.ErrNotExist) {
		tmp := dst + ".tmp"
		os.RemoveAll(tmp)
		if err := os.Mkdir(tmp, 0o755); err != nil {
			return err
		}
		if err := CopyLayers(log, c.LayerDirs(), tmp); err != nil {
			os.RemoveAll(tmp)
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
	}
	return Bind(log, dst, c.Mountpoint, c.ReadOnly)
}

// Umount unmounts c's root filesystem.
func (c *Container) Umount(log *explain.Log) error {
	if !c.Mounted {
		return c.unmountIdmapped(log)
	}
	if err := Unmount(log, c.Mountpoint); err != nil {
		return err
	}
	c.Mounted = false
	return c.unmountIdmapped(log)
}

// mountRemapped stacks the layers idmapped, with an upper dir that belongs
// to the uid and gid root inside maps to (idmap.go).
func (c *Container) mountRemapped(log *explain.Log) error {
	m, err := ParseIDMap(c.Userns)
	if err != nil {
		return err
	}
	c.shorts() // makes the empty layer of an image without layers
	names, err := c.mountIdmapped(log, m)
	if err != nil {
		return err
	}
	for _, d := range []string{c.Upper(), c.Work()} {
		log.Step(fmt.Sprintf("chown(%q, %d, %d)", d, m.Outside, m.Outside), fmt.Sprintf("chown %d:%d %s", m.Outside, m.Outside, explain.Quote(d)))
		if err := os.Chown(d, int(m.Outside), int(m.Outside)); err != nil {
			c.unmountIdmapped(log)
			return err
		}
	}
	if err := MountOverlay(log, c.IdmappedDir(), names, c.Upper(), c.Work(), c.Mountpoint, c.ReadOnly); err != nil {
		c.unmountIdmapped(log)
		return err
	}
	c.Driver = DriverOverlay
	return nil
}

// Remove unmounts c and deletes its upper layer, workdir and mount point.
func (c *Container) Remove(log *explain.Log) error {
	if err := c.Umount(log); err != nil {
		return err
	}
	log.Step(fmt.Sprintf("rmdir(%q)", c.Mountpoint), "rmdir "+explain.Quote(c.Mountpoint))
	if err := os.Remove(c.Mountpoint); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove mount point: %w", err)
	}
	// The state dir STATE/ID is shared with the other stages: remove it
	// only when nothing but fs-layer's own traces is left.
	stateDir := filepath.Dir(c.Mountpoint)
	if ents, err := os.ReadDir(stateDir); err == nil && len(ents) == 0 {
		os.Remove(stateDir)
	}
	log.Step(fmt.Sprintf("unlinkat(%q, AT_REMOVEDIR) …", c.Dir), "rm -rf "+explain.Quote(c.Dir))
	if err := os.RemoveAll(c.Dir); err != nil {
		return fmt.Errorf("remove container %s: %w", c.ID, err)
	}
	return nil
}
