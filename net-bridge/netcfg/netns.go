package netcfg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"ctrkit/internal/explain"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NewNetns makes a network namespace that outlives us, bound to
// /run/netns/NAME like `ip netns add NAME`, and returns its path.
//
// Equivalent to: `ip netns add NAME`.
//
// unshare(CLONE_NEWNET) moves the calling *thread* into the new namespace,
// and the Go scheduler runs goroutines on any thread. So the work happens on
// a goroutine locked to its thread that never unlocks it: when it returns,
// the runtime ends that thread instead of reusing it in the wrong namespace.
func NewNetns(log *explain.Log, name string) (string, error) {
	if err := sharedNetnsDir(log); err != nil {
		return "", err
	}
	path := filepath.Join(NetnsDir, name)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("network namespace %q exists already (remove it: ip netns del %s)", name, name)
		}
		return "", fmt.Errorf("create %s: %w", path, err)
	}
	f.Close()
	log.Step(fmt.Sprintf("unshare(CLONE_NEWNET); mount(\"/proc/self/ns/net\", %q, MS_BIND)", path), "ip netns add "+name)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: this thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", hint(err))
			return
		}
		src := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("mount %s on %s (MS_BIND): %w", src, path, hint(err))
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// sharedNetnsDir makes /run/netns a mount point with shared propagation, as
// `ip netns add` does, so a namespace bound there later shows in every
// mount namespace copied from ours (containers' included).
//
// Equivalent to: `mount --bind --make-shared /run/netns /run/netns`.
func sharedNetnsDir(log *explain.Log) error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", NetnsDir, err)
	}
	err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) { // not a mount point yet
		log.Step(fmt.Sprintf("mount(%q, %q, MS_BIND|MS_REC); mount(MS_SHARED)", NetnsDir, NetnsDir), "mount --bind --make-shared "+NetnsDir+" "+NetnsDir)
		if err := unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s on itself: %w", NetnsDir, hint(err))
		}
		err = unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	}
	if err != nil {
		return fmt.Errorf("make %s shared (MS_SHARED|MS_REC): %w", NetnsDir, hint(err))
	}
	return nil
}

// DeleteNetns unmounts and removes a namespace made by NewNetns, like
// `ip netns del`. The namespace itself ends when nothing uses it any more.
//
// Equivalent to: `ip netns del NAME`.
func DeleteNetns(log *explain.Log, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	log.Step(fmt.Sprintf("umount2(%q, MNT_DETACH); unlink(%q)", path, path), "ip netns del "+filepath.Base(path))
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", path, hint(err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// nsHandle opens a netlink handle working inside the namespace at path,
// for NETLINK_ROUTE only (see the package doc).
func nsHandle(path string) (*netlink.Handle, netns.NsHandle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return nil, 0, fmt.Errorf("open network namespace %s: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, 0, fmt.Errorf("netlink socket in %s: %w", path, err)
	}
	return h, ns, nil
}

// nsCmd is the shell equivalent of running cmd in the namespace at path:
// `ip -n NAME …` for a namespace under /run/netns (ip -n wants a name),
// else `nsenter --net=PATH …` (nsenter takes a path).
func nsCmd(path, cmd string) string {
	if filepath.Dir(path) == NetnsDir {
		return "ip -n " + filepath.Base(path) + " " + strings.TrimPrefix(cmd, "ip ")
	}
	return "nsenter --net=" + path + " " + cmd
}

func nsName(path string) string {
	if filepath.Dir(path) == NetnsDir {
		return filepath.Base(path)
	}
	return path
}
