package container

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// mountInfo is one line of /proc/self/mountinfo (proc(5)).
type mountInfo struct {
	ID, Parent string
	Mountpoint string
	Optional   string // "shared:N", "master:N" … or ""
	FSType     string
	Source     string
}

func readMountInfo() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseMountInfo(f), nil
}

func parseMountInfo(r io.Reader) []mountInfo {
	var ms []mountInfo
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		left, right, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(left), strings.Fields(right)
		if !ok || len(f) < 6 || len(g) < 2 {
			continue
		}
		ms = append(ms, mountInfo{
			ID: f[0], Parent: f[1], Mountpoint: unescape(f[4]),
			Optional: strings.Join(f[6:], " "), FSType: g[0], Source: unescape(g[1]),
		})
	}
	return ms
}

// unescape decodes the octal escapes (\040 for a space) of mountinfo.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// diagnosePivot says which of pivot_root(2)'s preconditions failed, from
// the mount table at the moment it returned EINVAL:
//   - new_root must be a mount point (ns-enter bind-mounts it onto itself);
//   - the current root must not be the initramfs (rootfs), which can never
//     be unmounted;
//   - neither the current root, nor new_root, nor new_root's parent mount
//     may have shared propagation, or the change would spread to other
//     namespaces (ns-enter makes "/" private first, like runc).
func diagnosePivot(ms []mountInfo, root string) string {
	byID := map[string]mountInfo{}
	var top, newRoot *mountInfo
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
	for _, m := range []*mountInfo{top, newRoot} {
		if m != nil && strings.Contains(m.Optional, "shared:") {
			return "the mount at " + m.Mountpoint + " has shared propagation: make it private first (mount --make-rprivate /)"
		}
	}
	if parent, ok := byID[newRoot.Parent]; ok && strings.Contains(parent.Optional, "shared:") {
		return "the parent mount of " + root + " (" + parent.Mountpoint + ") has shared propagation: make it private first (mount --make-rprivate /)"
	}
	return "new_root and the old root must be mount points in this mount namespace, with no shared propagation (pivot_root(2))"
}
