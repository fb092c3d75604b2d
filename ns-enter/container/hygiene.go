// # What a container must not inherit from the runtime
//
// The container's process is born from ns-enter, so whatever ns-enter holds
// when it calls execve is the container's unless ns-enter lets go of it.
// Three things are easy to leak, and each has been a real escape.
//
// ## Descriptors (CVE-2024-21626)
//
// A file descriptor is a capability: whoever holds one to a directory can
// reach everything under it, whatever its root or mount namespace is.
// execve keeps every descriptor not marked close-on-exec, and Go's os/exec
// passes every inherited descriptor on as well: only the ones Go opened
// itself carry O_CLOEXEC. So
//
//	( exec 42</ ; ctr-run run --rm busybox ls -l /proc/self/fd )
//
// gave the container fd 42, the host's "/": `cat /proc/self/fd/42/etc/shadow`
// and `chroot /proc/self/fd/42` walk out of the container. In runc 1.1.11
// (CVE-2024-21626) the leaked descriptor was runc's own handle to the host's
// /sys/fs/cgroup, and a process.cwd of /proc/self/fd/7 started the container
// with its working directory outside its root. runc now marks every
// descriptor from 3 up close-on-exec just before execve; ns-enter does the
// same, in stage 0 when it starts (so nothing it runs on the host inherits
// them either) and in stage 1 right before the container's execve or fork:
//
//	close_range(3, ~0U, CLOSE_RANGE_CLOEXEC)   Linux 5.11; older kernels:
//	                                           fcntl(FD_CLOEXEC) on each
//	                                           entry of /proc/self/fd
//
// Close-on-exec rather than close: stage 1 still needs its pipe to stage 0
// until the execve succeeds, and the Go runtime owns descriptors of its own.
// The only descriptors passed on are the ones asked for, at the numbers
// runc uses: `--preserve-fds N` passes 3…3+N-1, and under systemd socket
// activation (LISTEN_FDS=N with LISTEN_PID naming ns-enter) those N sockets
// come first, and the container is told LISTEN_FDS=N, LISTEN_PID=1.
// ns-enter's own descriptors for stage 1 are placed after them.
//
// ## The runtime binary (CVE-2019-5736)
//
// Stage 1 is ns-enter itself, re-executed into the container's namespaces.
// While it runs there (until the execve; for good with --init, where it
// stays PID 1; and for every exec into a running container), the container
// can see it in its /proc, and /proc/PID/exe is a magic link to the file
// the process runs: the host's ns-enter binary, reachable through a
// path that ignores the container's root. The 2019 runc attack replaced
// the container's /bin/sh with `#!/proc/self/exe`, so the next `docker exec
// sh` made runc execute itself inside; the container then opened
// /proc/PID/exe (O_PATH), waited for runc to exit (a running binary refuses
// writers with ETXTBSY) and wrote a backdoor over the host's runc through
// /proc/self/fd/N. The next container start ran it as root on the host.
//
// The cure is that stage 1 never runs from the host's file. runc (since
// 1.2) opens its binary through a private, read-only overlayfs mount that
// is never attached anywhere: the file stage 1 executes is an overlay
// inode on its own device, which cannot be opened for writing (EROFS) and
// cannot be unwrapped to the real file. ns-enter does the same:
//
//	fsopen("overlay"); fsconfig(lowerdir=DIR:EMPTY); fsmount(MS_RDONLY)
//	openat(mnt, "ns-enter", O_PATH); execve("/proc/self/fd/N")
//
// (overlay needs two lower directories to run without an upper one; EMPTY
// is a fresh empty directory, removed once the mount exists). Where that is
// not possible (no overlayfs, no fsopen before Linux 5.2), ns-enter copies
// itself into a memfd and seals it with F_SEAL_SEAL|F_SEAL_SHRINK|
// F_SEAL_GROW|F_SEAL_WRITE, runc's older way: a sealed memfd can never be
// written again, by anyone. The overlay costs a mount; the copy costs
// reading the whole binary every start (see docs/reference for numbers).
//
// ## The session keyring
//
// The kernel's keyrings (keyctl(2), keyrings(7)) are not namespaced: a
// process inherits its parent's session keyring, so a container started
// from a login shell could read and change the keys of the user's session
// (kerberos tickets, ecryptfs and NFS keys). Like runc, stage 1 joins a new
// session keyring named "_ses.ID" (anonymous "_ses" without an id) before
// it drops capabilities and installs seccomp, which usually forbids keyctl:
//
//	keyctl(KEYCTL_JOIN_SESSION_KEYRING, "_ses.ID")   $ keyctl session _ses.ID
//
// and makes it searchable by its owner, so an exec into the running
// container (runc exec does this too) joins the container's keyring by name
// instead of the caller's. `ns-enter --no-new-keyring` keeps the caller's.
//
// All three use golang.org/x/sys/unix directly: each is a system call or
// two, and the calls are the lesson.
package container

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"ctrkit/internal/explain"
	"ctrkit/internal/fds"
	"golang.org/x/sys/unix"
)

// ListenFDs returns how many systemd socket-activation descriptors (from 3
// up) ns-enter was given: LISTEN_FDS when LISTEN_PID names this process
// (sd_listen_fds(3)), else 0.
func ListenFDs() int {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return 0
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// passedFiles checks that descriptors 3…3+n-1 are open and returns them.
func passedFiles(n int) ([]*os.File, error) {
	var fs []*os.File
	for fd := 3; fd < 3+n; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			return nil, fmt.Errorf("--preserve-fds %d: descriptor %d is not open (%w): open it in the shell first, e.g. exec %d<FILE", n, fd, err, fd)
		}
		fs = append(fs, os.NewFile(uintptr(fd), "fd"+strconv.Itoa(fd)))
	}
	return fs, nil
}

// closeOnExec marks every descriptor from first up close-on-exec, so the
// next execve (the container's) drops them all.
func closeOnExec(log *explain.Log, first int) error {
	log.Step(fmt.Sprintf("close_range(%d, ~0, CLOSE_RANGE_CLOEXEC)", first),
		fmt.Sprintf("for fd in /proc/self/fd/*; do fd=${fd##*/}; [ \"$fd\" -lt %d ] || eval \"exec $fd>&-\"; done", first))
	return fds.CloseOnExec(first)
}

// sealedSelf returns a handle to ns-enter's own binary that the container
// can neither write nor trace back to the host's file: the binary seen
// through a detached read-only overlayfs mount, or a sealed memfd copy.
// Stage 1 is executed from it.
func sealedSelf(log *explain.Log) (*os.File, error) {
	f, err := overlaySelf(log)
	if err == nil {
		return f, nil
	}
	log.Note("no read-only overlay of ns-enter (%v): copying it into a sealed memfd", err)
	return memfdSelf(log)
}

// overlaySelf opens /proc/self/exe through a private overlayfs mount with
// two lower directories and no upper one: read-only by construction.
func overlaySelf(log *explain.Log) (*os.File, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(exe, " (deleted)") {
		return nil, fmt.Errorf("%s was replaced while running", exe)
	}
	dir, name := filepath.Split(exe)
	dir = filepath.Clean(dir)
	// The layers may not nest (ELOOP): the empty one goes where the
	// binary is not, e.g. /run when ns-enter lives in /tmp.
	var empty string
	for _, base := range []string{os.TempDir(), "/run", "/dev/shm", "/var/tmp"} {
		if strings.HasPrefix(base+"/", dir+"/") {
			continue
		}
		if empty, err = os.MkdirTemp(base, "ns-enter-exe."); err == nil {
			break
		}
	}
	if empty == "" {
		return nil, fmt.Errorf("no place for an empty directory outside %s", dir)
	}
	defer os.Remove(empty)
	esc := func(p string) string { return strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`).Replace(p) }
	lower := esc(dir) + ":" + esc(empty)
	log.Step(fmt.Sprintf("fsopen(\"overlay\"); fsconfig(\"lowerdir\", %q); fsmount(MOUNT_ATTR_RDONLY); openat(%q, O_PATH)", lower, name),
		"# ns-enter's own binary, read-only for the container; a shell runs no copy of itself")
	ctx, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fsopen(\"overlay\"): %w", err)
	}
	defer unix.Close(ctx)
	if err := unix.FsconfigSetString(ctx, "lowerdir", lower); err != nil {
		return nil, fmt.Errorf("fsconfig(lowerdir=%s): %w", lower, err)
	}
	_ = unix.FsconfigSetString(ctx, "xino", "off") // only quiets dmesg when the two dirs are on different file systems
	if err := unix.FsconfigCreate(ctx); err != nil {
		return nil, fmt.Errorf("fsconfig(FSCONFIG_CMD_CREATE) for overlay: %w", err)
	}
	mnt, err := unix.Fsmount(ctx, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY|unix.MOUNT_ATTR_NODEV|unix.MOUNT_ATTR_NOSUID)
	if err != nil {
		return nil, fmt.Errorf("fsmount(overlay): %w", err)
	}
	defer unix.Close(mnt)
	fd, err := unix.Openat(mnt, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s through the overlay: %w", name, err)
	}
	return os.NewFile(uintptr(fd), "ns-enter (read-only overlay)"), nil
}

// memfdSeals make a memfd immutable for good (memfd_create(2), "File
// sealing"); F_SEAL_SEAL forbids removing them.
const memfdSeals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE

// memfdSelf copies /proc/self/exe into a memfd and seals it.
func memfdSelf(log *explain.Log) (*os.File, error) {
	log.Step("memfd_create(\"ns-enter\", MFD_ALLOW_SEALING); sendfile(/proc/self/exe); fcntl(F_ADD_SEALS, F_SEAL_SEAL|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE)",
		"# ns-enter's own binary, sealed for the container; a shell runs no copy of itself")
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open /proc/self/exe: %w", err)
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("ns-enter", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create(\"ns-enter\"): %w", err)
	}
	f := os.NewFile(uintptr(fd), "ns-enter (sealed memfd)")
	if _, err := io.Copy(f, src); err != nil {
		f.Close()
		return nil, fmt.Errorf("copy /proc/self/exe into a memfd: %w", err)
	}
	if err := f.Chmod(0o555); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, memfdSeals); err != nil {
		f.Close()
		return nil, fmt.Errorf("fcntl(F_ADD_SEALS) on the memfd copy of ns-enter: %w", err)
	}
	return f, nil
}

// sessionKeyring gives this process a new session keyring, named
// "_ses.ID" (or anonymous without id), and lets its owner find it by that
// name, which is how an exec into the container joins the same one.
func sessionKeyring(log *explain.Log, id string) error {
	name := "_ses"
	if id != "" {
		name += "." + id
	}
	log.Step(fmt.Sprintf("keyctl(KEYCTL_JOIN_SESSION_KEYRING, %q)", name), "# keyutils (not a stock tool): keyctl session "+explain.Quote(name)+" bash")
	var ring int
	var err error
	if id != "" {
		ring, err = unix.KeyctlJoinSessionKeyring(name)
	} else {
		var r uintptr
		var e unix.Errno
		r, _, e = unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0) // NULL name: anonymous
		ring = int(r)
		if e != 0 {
			err = e
		}
	}
	if errors.Is(err, unix.ENOSYS) {
		log.Note("this kernel has no keyrings (CONFIG_KEYS=n): nothing to isolate")
		return nil
	}
	if err != nil {
		return fmt.Errorf("keyctl(KEYCTL_JOIN_SESSION_KEYRING, %q): %w (use --no-new-keyring to keep the caller's)", name, err)
	}
	if id == "" {
		return nil
	}
	// Add "search" for the owner (KEY_USR_SEARCH, 0x00080000) to what the
	// kernel gave the new keyring, so KEYCTL_JOIN_SESSION_KEYRING by name
	// finds it from an exec into the container.
	desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, ring)
	if err != nil {
		return fmt.Errorf("keyctl(KEYCTL_DESCRIBE, %d): %w", ring, err)
	}
	parts := strings.Split(desc, ";") // type;uid;gid;perm;description
	if len(parts) < 4 {
		return fmt.Errorf("keyctl(KEYCTL_DESCRIBE, %d) = %q: want type;uid;gid;perm;description", ring, desc)
	}
	perm, err := strconv.ParseUint(parts[3], 16, 32)
	if err != nil {
		return fmt.Errorf("keyring %d has permissions %q: %w", ring, parts[3], err)
	}
	log.Step(fmt.Sprintf("keyctl(KEYCTL_SETPERM, %d, %#08x)", ring, perm|0x080000), fmt.Sprintf("# keyutils: keyctl setperm %d %#08x", ring, perm|0x080000))
	if err := unix.KeyctlSetperm(ring, uint32(perm)|0x080000); err != nil {
		return fmt.Errorf("keyctl(KEYCTL_SETPERM, %d): %w", ring, err)
	}
	return nil
}
