// Package overlay stacks unpacked layers into a container's root filesystem
// with overlayfs, and keeps the container's own read-write layer.
//
//	mount -t overlay overlay \
//	  -o lowerdir=TOP:…:BOTTOM,upperdir=UPPER,workdir=WORK  MERGED
//
// The lowerdirs are the image's layers, read-only, the top one first. The
// upperdir is the container's layer: every file the container creates or
// changes lands there (a file from a lower layer is first copied up whole:
// copy-on-write), and every file it deletes becomes a whiteout there (a
// character device 0/0). The workdir is overlay's scratch space for making
// those changes atomic; it must be an empty directory on the same file
// system as the upperdir.
//
// Per container (ID):
//
//	ROOT/containers/ID/container.json  image, layer chain, driver
//	ROOT/containers/ID/upper/          the container layer
//	ROOT/containers/ID/work/           overlay's workdir
//	STATE/ID/rootfs/                   the mount point (root.path of the spec)
//
// # The one-page limit, and the short-link trick
//
// mount(2) passes the options as one string of at most a page (4096 bytes
// on x86-64); overlay refuses a longer one. With absolute paths such as
// /var/lib/ctrkit/layers/<64 hex>/diff (90 bytes) that is about 40 layers,
// and Docker images with more layers exist. Docker's overlay2 driver's
// answer, which we copy: every layer also has a short symlink
// ROOT/layers/l/<12 hex> → ../<chain id>/diff, and the mount is made from
// inside ROOT/layers with relative lowerdirs "l/…:l/…", 15 bytes a layer,
// so about 270 layers fit (Docker caps images at 128; overlay itself at
// 500, OVL_MAX_STACK).
// The kernel resolves the relative paths against the calling process's
// working directory at mount time, and /proc/mounts shows them relative.
//
// Changing directory would move every goroutine of a Go program (threads
// share their working directory, CLONE_FS). So Mount runs on a thread of
// its own that first calls unshare(CLONE_FS): that thread gets a private
// working directory, changes it, mounts, and is thrown away.
//
// (Linux 6.8 has a cleaner way: the new mount API, fsopen("overlay") and
// one fsconfig(FSCONFIG_SET_STRING, "lowerdir+", DIR) call per layer, with
// no limit on the total length.)
package overlay

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"ctrkit/internal/explain"
	"ctrkit/internal/fsutil"
	"ctrkit/internal/ident"
	"ctrkit/internal/mountinfo"

	"golang.org/x/sys/unix"
)

// Drivers.
const (
	DriverOverlay = "overlay"
	DriverCopy    = "copy"
)

// Container is what fs-layer keeps about one container's root filesystem.
type Container struct {
	ID         string    `json:"id"`
	Image      string    `json:"image"`      // full name, as in the store
	Manifest   string    `json:"manifest"`   // manifest digest
	Chain      []string  `json:"chain"`      // chain ids, bottom layer first
	DiffIDs    []string  `json:"diffIDs"`    // diff ids, bottom first
	Driver     string    `json:"driver"`     // overlay or copy
	Mountpoint string    `json:"mountpoint"` // STATE/ID/rootfs
	Dir        string    `json:"dir"`        // ROOT/containers/ID
	ReadOnly   bool      `json:"readOnly"`   // --read-only
	Created    time.Time `json:"created"`    // when first mounted
	Mounted    bool      `json:"mounted"`    // filled by Load from /proc/self/mountinfo
	Layers     string    `json:"-"`          // ROOT/layers
	Volumes    []string  `json:"volumes,omitempty"`
	// Userns is the id map of a remapped root (--userns): the layers are
	// mounted idmapped (idmap.go).
	Userns string `json:"userns,omitempty"`
}

// Upper is the container's read-write layer; Work is overlay's workdir.
func (c *Container) Upper() string { return filepath.Join(c.Dir, "upper") }
func (c *Container) Work() string  { return filepath.Join(c.Dir, "work") }

// CopyRoot is the copy driver's root filesystem.
func (c *Container) CopyRoot() string { return filepath.Join(c.Dir, "rootfs") }

// CheckID refuses ids that are not safe as one directory name.
func CheckID(id string) error {
	if !ident.Valid(id, 128) {
		return fmt.Errorf("container id %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", id)
	}
	return nil
}

// Dirs returns where container id lives.
func Dirs(root, state, id string) (dir, mountpoint string) {
	return filepath.Join(root, "containers", id), filepath.Join(state, id, "rootfs")
}

// Load reads container id, and whether it is mounted now.
func Load(root, state, id string) (*Container, error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	dir, _ := Dirs(root, state, id)
	data, err := os.ReadFile(filepath.Join(dir, "container.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no container %q (fs-layer ls lists them)", id)
	}
	if err != nil {
		return nil, err
	}
	var c Container
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parse %s: %w", filepath.Join(dir, "container.json"), err)
	}
	c.Layers = filepath.Join(root, "layers")
	c.Mounted, err = IsMountpoint(c.Mountpoint)
	return &c, err
}

// Remains is what an interrupted Remove left of container id once Load
// no longer finds it (container.json went with part of the directory): a
// Container for Remove to finish, or nil when nothing of it is left.
func Remains(root, state, id string) *Container {
	if CheckID(id) != nil {
		return nil
	}
	dir, mp := Dirs(root, state, id)
	mounted, _ := IsMountpoint(mp)
	if _, err := os.Lstat(dir); err != nil && !mounted {
		return nil
	}
	return &Container{ID: id, Dir: dir, Mountpoint: mp, Mounted: mounted, Layers: filepath.Join(root, "layers")}
}

// Save writes container.json, durably.
func (c *Container) Save() error { return c.save(fsutil.WriteFile) }

// saveDraft writes container.json without fsync, for New: Save then
// makes it durable, and the disk's wait is paid once, off the pipe's path.
func (c *Container) saveDraft() error { return c.save(fsutil.WriteDraft) }

func (c *Container) save(write func(string, []byte, os.FileMode) error) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return write(filepath.Join(c.Dir, "container.json"), append(data, '\n'), 0o644)
}

// List returns the ids of all containers under root.
func List(root string) ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(root, "containers"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	return ids, err
}

// Lowerdir builds overlay's lowerdir option from short layer names, bottom
// layer first as images list them: overlay wants the top layer first.
func Lowerdir(shorts []string) string {
	rev := make([]string, len(shorts))
	for i, s := range shorts {
		rev[len(shorts)-1-i] = s
	}
	return strings.Join(rev, ":")
}

// MaxStack is overlay's limit on lower layers (OVL_MAX_STACK, fs/overlayfs).
const MaxStack = 500

// Options builds the mount data for overlay and checks it fits in a page.
func Options(shorts []string, upper, work string) (string, error) {
	if len(shorts) > MaxStack {
		return "", fmt.Errorf("%d layers: overlayfs stacks at most %d (OVL_MAX_STACK); squash the image", len(shorts), MaxStack)
	}
	data := "lowerdir=" + Lowerdir(shorts) + ",upperdir=" + upper + ",workdir=" + work
	if limit := os.Getpagesize() - 1; len(data) > limit {
		return "", fmt.Errorf("overlay mount options of %d bytes do not fit mount(2)'s one page (%d bytes): %d layers are too many", len(data), limit, len(shorts))
	}
	return data, nil
}

// MountOverlay mounts the layers (short names relative to layersDir) with
// upper and work on target; readOnly adds MS_RDONLY.
func MountOverlay(log *explain.Log, layersDir string, shorts []string, upper, work, target string, readOnly bool) error {
	data, err := Options(shorts, upper, work)
	if err != nil {
		return err
	}
	var flags uintptr
	flagName, opt := "0", ""
	if readOnly {
		flags, flagName, opt = unix.MS_RDONLY, "MS_RDONLY", "ro,"
	}
	log.Step(fmt.Sprintf("chdir(%q)", layersDir), "cd "+explain.Quote(layersDir))
	log.Step(fmt.Sprintf("mount(\"overlay\", %q, \"overlay\", %s, %q)", target, flagName, data),
		"mount -t overlay overlay -o "+explain.Quote(opt+data)+" "+explain.Quote(target))
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread, with its private working directory,
		// ends with this goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_FS): %w", err)
			return
		}
		if err := unix.Chdir(layersDir); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", layersDir, err)
			return
		}
		errc <- unix.Mount("overlay", target, "overlay", flags, data)
	}()
	if err := <-errc; err != nil {
		hint := ""
		switch {
		case errors.Is(err, unix.EPERM):
			hint = " (needs root: CAP_SYS_ADMIN)"
		case errors.Is(err, unix.EINVAL):
			hint = " (overlay refused these directories: is the upper dir on overlayfs itself, or on a file system without xattrs? see dmesg)"
		case errors.Is(err, unix.ENODEV):
			hint = " (no overlayfs in this kernel: modprobe overlay)"
		}
		return &MountError{Target: target, Data: data, Err: err, Hint: hint}
	}
	return nil
}

// MountError is a failed overlay mount.
type MountError struct {
	Target, Data, Hint string
	Err                error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("mount -t overlay overlay -o %s %s: %v%s", e.Data, e.Target, e.Err, e.Hint)
}
func (e *MountError) Unwrap() error { return e.Err }

// Bind bind-mounts src on target (the copy driver's "mount").
func Bind(log *explain.Log, src, target string, readOnly bool) error {
	log.Step(fmt.Sprintf("mount(%q, %q, \"\", MS_BIND, \"\")", src, target), "mount --bind "+explain.Quote(src)+" "+explain.Quote(target))
	if err := unix.Mount(src, target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount --bind %s %s: %w", src, target, err)
	}
	if readOnly {
		log.Step(fmt.Sprintf("mount(\"\", %q, \"\", MS_BIND|MS_REMOUNT|MS_RDONLY, \"\")", target), "mount -o remount,bind,ro "+explain.Quote(target))
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			return fmt.Errorf("mount -o remount,bind,ro %s: %w", target, err)
		}
	}
	return nil
}

// Unmount unmounts target.
func Unmount(log *explain.Log, target string) error {
	log.Step(fmt.Sprintf("umount2(%q, 0)", target), "umount "+explain.Quote(target))
	if err := unix.Unmount(target, 0); err != nil {
		if errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("umount %s: %w (a process still uses it: fuser -vm %s)", target, err, target)
		}
		return fmt.Errorf("umount %s: %w", target, err)
	}
	return nil
}

// IsMountpoint reports whether path is a mount point, from
// /proc/self/mountinfo.
func IsMountpoint(path string) (bool, error) { return mountinfo.IsMountpoint(path) }
