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
// That line needs util-linux 2.38 (Ubuntu 22.04 has 2.37), and it cannot
// show the order that matters: the maps are written, and the cgroup joined,
// from outside, between the two unshares. So --explain prints the steps as
// a shell does them with any util-linux: a helper process holds the new
// user namespace (unshare --user tail --pid=$$ …, which ends with the
// container's shell), the maps go to its /proc/PID/uid_map, the shell
// joins the cgroup, then enters the namespace as its root and unshares the
// rest (nsenter --user=/proc/$userns/ns/user unshare … bash).
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
	"strconv"
	"strings"

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
	for i := 0; i+1 < len(p.bindShell); i += 2 {
		log.Step(p.bindShell[i]+", by stage 0 before the start", p.bindShell[i+1])
	}
	log.Step("unshare(CLONE_NEWUSER), in C after the joins; it waits for its maps",
		`unshare --user tail --pid=$$ -f /dev/null & userns=$!; until [ "$(readlink /proc/$userns/ns/user)" != "$(readlink /proc/$$/ns/user)" ]; do sleep 0.01; done`)
}

// lateUserEnv tells stage 1, under --explain, that the C constructor made
// a late user namespace and these (decimal) namespaces in it, to print.
const lateUserEnv = "_CTRKIT_EXPLAIN_LATE_USER"

// explainLateUserInside prints what the C constructor did once ns-enter
// had written the maps, joined the cgroup and sent the spec: become root
// in the user namespace and unshare the rest there. The replayed shell
// enters the namespace the helper holds; the shell it starts reads the
// rest of the transcript.
func explainLateUserInside(log *explain.Log) {
	v, ok := os.LookupEnv(lateUserEnv)
	if !ok {
		return
	}
	os.Unsetenv(lateUserEnv)
	mountNoCanon = true // mount.go
	flags, _ := strconv.ParseUint(v, 10, 64)
	shell := []string{"exec", "nsenter", "--user=/proc/$userns/ns/user", "unshare"}
	for _, k := range namespace.Kinds {
		if uintptr(flags)&k.Flag != 0 {
			shell = append(shell, k.Option)
		}
	}
	if uintptr(flags)&unix.CLONE_NEWPID != 0 {
		shell = append(shell, "--fork")
	}
	log.Step(fmt.Sprintf("setresgid(0); setresuid(0); unshare(%s), in C once the spec arrived", namespace.FlagNames(uintptr(flags))),
		strings.Join(shell, " ")+" bash")
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
		// A shell has no open_tree: it binds the source onto the root
		// while still the host's root, and the new mount namespace copies
		// that bind (explainLateUser prints it).
		dest := explain.Quote(filepath.Join(p.rootfs, m.Destination))
		mk := "touch " + dest
		if fi, err := os.Stat(src); err == nil && fi.IsDir() {
			mk = "mkdir -p " + dest
		}
		p.bindShell = append(p.bindShell, fmt.Sprintf("open_tree(%q, OPEN_TREE_CLONE)", src), mk+" && mount --bind "+explain.Quote(src)+" "+dest)
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
		// The replayed shell names the helper that holds the namespace.
		log.Step(fmt.Sprintf("write(%q, %q)", path, data), fmt.Sprintf("printf '%%s\\n' %s > /proc/$userns/%s", explain.Join(lines), m.file))
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
	log.Step(fmt.Sprintf("move_mount(%d, \"\", AT_FDCWD, %q, MOVE_MOUNT_F_EMPTY_PATH)", fd, dest), "# bound already, before the user namespace: "+explain.Quote(dest))
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
	log.Step(`open_tree(AT_FDCWD, ".", OPEN_TREE_CLONE|AT_RECURSIVE); move_mount(…, "."); fchdir(…)`, `mount --no-canonicalize --rbind . . && cd "../${PWD##*/}"`) // "cd ." stays below the new mount
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
