package container

// A root filesystem without a mount namespace
//
// The runtime spec says that a namespace type not listed in
// linux.namespaces is inherited from the runtime. A spec with a root and
// mounts but no "mount" entry therefore asks for the mounts to be made in
// the caller's own mount namespace, and for the root to be entered with
// chroot(2): pivot_root would change the caller's root. runc does exactly
// that (and so does ns-enter, for runtime-tools' linux_ns_itype):
//
//	mount -t proc proc ROOT/proc        # … each of the spec's mounts, below ROOT
//	chroot ROOT                         # then the process, as usual
//
// What ns-enter does not do is runc's `mount --make-rslave /` first: that
// would change the caller's whole namespace. Nothing else of the namespace
// is touched either: no bind of ROOT onto itself, no masked or read-only
// paths, no read-only root (each would be a mount over the caller's tree;
// the spec is refused with those, as runc refuses masked paths). The
// mounts stay after the container's process ends (they belong to the
// namespace, not to the process), so whoever started it undoes them:
// ns-enter run when the container ends, ctrkit-runc delete for a container
// made with create. Snapshot lists the mounts that were below ROOT before
// (an image's overlay and volumes may be); Made tells the new ones, and
// Unmount removes exactly those, deepest first, with umount2(MNT_DETACH).
// On a host whose / is shared (systemd's default), mounts below ROOT also
// appear in the namespaces that receive its propagation, and unmounting
// them propagates the same way.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/internal/mountinfo"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// checkCallerMounts refuses what a root in the caller's mount namespace
// cannot do without changing that namespace beyond ROOT.
func checkCallerMounts(s *specs.Spec) error {
	hint := "add a \"mount\" entry to linux.namespaces (ns-enter --mount)"
	switch {
	case s.Root.Readonly:
		return fmt.Errorf("root.readonly needs a mount namespace of the container's own (ROOT would be remounted read-only in ns-enter's): %s", hint)
	case len(s.Linux.MaskedPaths)+len(s.Linux.ReadonlyPaths) > 0:
		return fmt.Errorf("linux.maskedPaths and linux.readonlyPaths need a mount namespace of the container's own (their mounts would land in ns-enter's): %s", hint)
	case s.Linux.RootfsPropagation != "":
		return fmt.Errorf("linux.rootfsPropagation needs a mount namespace of the container's own: %s", hint)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return fmt.Errorf("a root without a mount namespace is set up in ns-enter's mount namespace, where a user namespace has no right to mount: %s", hint)
		}
	}
	return nil
}

// setupCallerMounts mounts the spec's mounts below root in the current
// (the caller's) mount namespace, fills /dev, runs the createContainer
// hooks and enters root with chroot.
func setupCallerMounts(log *explain.Log, s *specs.Spec, root string, userns bool, createContainer func() error) error {
	log.Note("no mount namespace in the spec: the mounts go below %s in ns-enter's own, and chroot replaces pivot_root", root)
	if err := mountAll(log, root, s, userns); err != nil { // rootfs.go
		return err
	}
	if err := createContainer(); err != nil {
		return err
	}
	log.Step(fmt.Sprintf("chroot(%q)", root), "chroot "+explain.Quote(root)+" sh    # the steps below run in that shell")
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	log.Step(`chdir("/")`, "cd /")
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	if s.Linux != nil {
		return setSysctl(log, s.Linux.Sysctl)
	}
	return nil
}

// Mounted is one mount, by the kernel's id and where it is.
type Mounted struct {
	ID         string `json:"id"`
	Mountpoint string `json:"mountpoint"`
}

// CallerMounts are the mounts below a root that a spec without a mount
// namespace puts in the caller's: Snapshot before the container starts,
// Made after, Unmount when it is deleted.
type CallerMounts struct {
	root   string
	before map[string]bool
}

// Snapshot notes the mounts below the spec's root, when its root and
// mounts are to be set up in the caller's mount namespace; nil otherwise.
func Snapshot(s *specs.Spec, bundle string) (*CallerMounts, error) {
	if s.Root == nil || s.Root.Path == "" || s.Linux != nil && slices.ContainsFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.MountNamespace
	}) {
		return nil, nil
	}
	root := s.Root.Path
	if !filepath.IsAbs(root) {
		root = filepath.Join(bundle, root)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	c := &CallerMounts{root: root, before: map[string]bool{}}
	ms, err := c.below()
	for _, m := range ms {
		c.before[m.ID] = true
	}
	return c, err
}

func (c *CallerMounts) below() ([]Mounted, error) {
	ms, err := mountinfo.Read()
	var out []Mounted
	for _, m := range ms {
		if strings.HasPrefix(m.Mountpoint, c.root+"/") {
			out = append(out, Mounted{ID: m.ID, Mountpoint: m.Mountpoint})
		}
	}
	return out, err
}

// Made lists the mounts below the root that were not there at Snapshot.
func (c *CallerMounts) Made() []Mounted {
	if c == nil {
		return nil
	}
	ms, _ := c.below()
	var made []Mounted
	for _, m := range ms {
		if !c.before[m.ID] {
			made = append(made, m)
		}
	}
	return made
}

// Unmount detaches the mounts made that are still there (the same id at
// the same place), deepest first.
func Unmount(log *explain.Log, made []Mounted) error {
	if len(made) == 0 {
		return nil
	}
	ms, err := mountinfo.Read()
	if err != nil {
		return err
	}
	there := map[Mounted]bool{}
	for _, m := range ms {
		there[Mounted{ID: m.ID, Mountpoint: m.Mountpoint}] = true
	}
	var errs []error
	for i := len(made) - 1; i >= 0; i-- { // mountinfo lists a mount after the one it sits on
		m := made[i]
		if !there[m] {
			continue
		}
		log.Step(fmt.Sprintf("umount2(%q, MNT_DETACH)", m.Mountpoint), "umount -l "+explain.Quote(m.Mountpoint))
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m.Mountpoint, err))
		}
	}
	return errors.Join(errs...)
}
