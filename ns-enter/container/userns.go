package container

// A user namespace made after the joins
//
// Made by clone(2) together with the other namespaces, a new user
// namespace owns them all, and its root may mount, set the host name and so
// on. But it may not join a namespace the host's user namespace owns, such
// as the network namespace net-bridge made (setns(2) wants CAP_SYS_ADMIN
// in the owner): docker's userns-remap with a bridge network. So then,
// like runc, stage 1 is started without new namespaces, and the setns
// constructor (ns-enter/setns) joins first, then unshares the user
// namespace, reports "userns" on the error pipe and waits; stage 0 writes
// /proc/PID/uid_map and gid_map; the constructor becomes root inside and
// unshares the rest (mount, pid, IPC, UTS), which the new user namespace
// then owns:
//
//	nsenter --net=/run/netns/ID unshare --user --map-users=… --map-groups=… \
//	    --mount --pid --ipc --uts --fork …
//
// Root inside is an unprivileged uid outside, which may not even reach the
// root filesystem by its path (ctrkit's state directory is private). When
// the root is a mount point of its own (fs-layer's overlay), the
// constructor changes into it while still the host's root, and stage 1
// sets it up as ".".

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/internal/mountinfo"
	"ctrkit/ns-enter/namespace"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// planLateUser decides whether the user namespace is made after the joins.
func planLateUser(p *runPlan, joins bool) {
	if p.clone&unix.CLONE_NEWUSER == 0 || !joins && p.rootfs == "" {
		return
	}
	if !joins {
		// Only to reach the root: worth it when the root is a mount point.
		if ok, _ := mountinfo.IsMountpoint(p.rootfs); !ok {
			return
		}
	}
	p.lateUser = true
	if p.rootfs != "" {
		p.rootCwd, _ = mountinfo.IsMountpoint(p.rootfs)
	}
}

func explainLateUser(log *explain.Log, p *runPlan) {
	if p.rootCwd {
		log.Step(fmt.Sprintf("chdir(%q), in C before the Go runtime starts", p.rootfs), "cd "+explain.Quote(p.rootfs))
	}
	shell := []string{"unshare", "--user"}
	rest := p.clone &^ unix.CLONE_NEWUSER
	for _, k := range namespace.Kinds {
		if rest&k.Flag != 0 {
			shell = append(shell, k.Option)
		}
	}
	log.Step(fmt.Sprintf("unshare(CLONE_NEWUSER); setresuid(0); unshare(%s), in C after the joins", namespace.FlagNames(rest)),
		explain.Join(append(shell, "--fork"))+" …")
}

// openBindSources copies the bind sources when the user namespace is made
// late: its root would need search permission on every directory above
// them (a private state directory has none for it). So stage 0, the host's
// root, makes each a detached mount (open_tree(OPEN_TREE_CLONE), Linux
// 5.2) and passes it on; stage 1 attaches it with move_mount(2) (a bind
// from a descriptor opened in another mount namespace would be refused:
// EINVAL). runc passes such mount descriptors too.
func (p *runPlan) openBindSources(s *specs.Spec, o Options) error {
	if !p.lateUser {
		return nil
	}
	for i, m := range s.Mounts {
		flags, _, _ := parseMountOptions(m.Options)
		if m.Type != "bind" && flags&unix.MS_BIND == 0 {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(o.Bundle, src)
		}
		tree := unix.OPEN_TREE_CLONE | unix.OPEN_TREE_CLOEXEC
		if flags&unix.MS_REC != 0 {
			tree |= unix.AT_RECURSIVE
		}
		fd, err := unix.OpenTree(unix.AT_FDCWD, src, uint(tree))
		if err != nil {
			return fmt.Errorf("bind mount source %s: open_tree: %w", m.Source, err)
		}
		f := os.NewFile(uintptr(fd), src)
		if p.bindFDs == nil {
			p.bindFDs = map[int]int{}
		}
		p.bindFDs[i] = o.PassFDs + fdNamespaces + len(p.nsFiles) + len(p.bindFiles)
		p.bindFiles = append(p.bindFiles, f)
	}
	return nil
}

// writeLateMaps waits for the constructor's "userns" and writes the maps.
func writeLateMaps(log *explain.Log, errR *os.File, pid int, s *specs.Spec) error {
	line, err := bufio.NewReader(io.LimitReader(errR, 7)).ReadString('\n')
	if line != "userns\n" {
		rest, _ := io.ReadAll(errR)
		if msg := append([]byte(line), rest...); len(msg) > 0 {
			_, err := childError(msg)
			return err
		}
		return &exitcode.Error{Code: 125, Err: fmt.Errorf("the container's user namespace: stage 1 ended before making it: %v", err)}
	}
	for _, m := range []struct {
		file string
		ms   []specs.LinuxIDMapping
	}{{"uid_map", s.Linux.UIDMappings}, {"gid_map", s.Linux.GIDMappings}} {
		var data []byte
		var lines []string
		for _, l := range m.ms {
			lines = append(lines, namespace.FormatIDMap(l))
			data = append(data, namespace.FormatIDMap(l)+"\n"...)
		}
		path := fmt.Sprintf("/proc/%d/%s", pid, m.file)
		log.Step(fmt.Sprintf("write(%q, %q)", path, data), fmt.Sprintf("printf '%%s\\n' %s > %s", explain.Join(lines), path))
		if err := os.WriteFile(path, data, 0); err != nil {
			return &exitcode.Error{Code: 125, Err: fmt.Errorf("write %s: %w (the maps must name ids the caller may map: root may map any)", path, err)}
		}
	}
	return nil
}

// detached holds the "/proc/self/fd/N" sources stage 1 attaches with
// move_mount instead of binding (set from initConfig.BindFDs).
var detached = map[string]int{}

// attachDetached is bindMount's first step for a detached mount.
func attachDetached(log *explain.Log, source, dest string, fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("bind mount source %s: %w", source, err)
	}
	if err := makeMountPoint(log, dest, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
		return err
	}
	log.Step(fmt.Sprintf("move_mount(%d, \"\", AT_FDCWD, %q, MOVE_MOUNT_F_EMPTY_PATH)", fd, dest), "mount --bind SOURCE "+explain.Quote(dest))
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, dest, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("attach the bind mount of %s at %s: move_mount: %w", source, dest, err)
	}
	return nil
}

// bindCwd is the bind of the root onto itself (pivot_root refuses a mount
// a more privileged namespace locked, and every mount copied into the new
// user namespace's mount namespace is locked) when the root is the
// current directory: a path would need the permissions root inside lacks.
// A recursive copy of the tree (open_tree), attached on top of it, is
// unlocked at its top; fchdir moves into it.
func bindCwd(log *explain.Log) error {
	log.Step(`open_tree(AT_FDCWD, ".", OPEN_TREE_CLONE|AT_RECURSIVE); move_mount(…, "."); fchdir(…)`, "mount --rbind . . && cd .")
	fd, err := unix.OpenTree(unix.AT_FDCWD, ".", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
	if err != nil {
		return fmt.Errorf("bind the root onto itself: open_tree: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, ".", unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("bind the root onto itself: move_mount: %w", err)
	}
	if err := unix.Fchdir(fd); err != nil {
		return fmt.Errorf("bind the root onto itself: fchdir: %w", err)
	}
	return nil
}
