package container

import (
	"strings"

	"ctrkit/internal/mountinfo"
)

// diagnosePivot says which of pivot_root(2)'s preconditions failed, from
// the mount table at the moment it returned EINVAL:
//   - new_root must be a mount point (ns-enter bind-mounts it onto itself);
//   - the current root must not be the initramfs (rootfs), which can never
//     be unmounted;
//   - neither the current root, nor new_root, nor new_root's parent mount
//     may have shared propagation, or the change would spread to other
//     namespaces (ns-enter makes "/" private first, like runc).
func diagnosePivot(ms []mountinfo.Mount, root string) string {
	byID := map[string]mountinfo.Mount{}
	var top, newRoot *mountinfo.Mount
	for i := range ms {
		m := &ms[i]
		byID[m.ID] = *m
		switch m.Mountpoint {
		case "/":
			top = m
		case root:
			newRoot = m
		}
	}
	if top != nil && (top.FSType == "rootfs" || top.FSType == "ramfs") {
		return "the current root is the initramfs (" + top.FSType + "), which pivot_root cannot move: boot from a real root filesystem, or use chroot"
	}
	if newRoot == nil {
		return root + " is not a mount point: bind-mount it onto itself first (mount --bind " + root + " " + root + ")"
	}
	for _, m := range []*mountinfo.Mount{top, newRoot} {
		if m != nil && strings.Contains(m.Optional, "shared:") {
			return "the mount at " + m.Mountpoint + " has shared propagation: make it private first (mount --make-rprivate /)"
		}
	}
	if parent, ok := byID[newRoot.Parent]; ok && strings.Contains(parent.Optional, "shared:") {
		return "the parent mount of " + root + " (" + parent.Mountpoint + ") has shared propagation: make it private first (mount --make-rprivate /)"
	}
	return "new_root and the old root must be mount points in this mount namespace, with no shared propagation (pivot_root(2))"
}
