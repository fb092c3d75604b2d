package store

// # Who may look inside
//
// A container's files live on the host: its upper layer under
// ROOT/containers, its volumes under ROOT/volumes/NAME/_data, the image
// layers under ROOT/layers, its mounted root under STATE/ID/rootfs. Root in
// the container owns them, so a setuid-root program written there, or one
// that came in an image layer, is a setuid-root program on the host: if any
// host user can reach it, any host user is root. docker therefore keeps
// /var/lib/docker 0711 (others may pass through, to nothing they can
// list), its containers/ and overlay2/ 0710, volumes/ 0701 and /run/docker
// 0700; the group and "other" x bits there exist for docker's user-namespace
// remapping, where the container's root is an unprivileged host uid that
// must still reach its own files. ctrkit does not remap ids, so it keeps
// the private directories 0700, which also stops a host user who guesses a
// volume's name from listing it (docker's 0701 allows that):
//
//	ROOT                0711   (docker: 0711)
//	ROOT/containers     0700   (docker: 0710)
//	ROOT/layers         0700   (docker's overlay2/: 0710)
//	ROOT/volumes        0700   (docker: 0701)
//	STATE               0700   (docker's /run/docker: 0700; spec.EnsureState)
//	ROOT/oci            0755   an OCI image layout, for skopeo and umoci
//	ROOT/cache          0700   what may be thrown away: ns-enter's compiled seccomp filters
//
// The directories inside (an upper layer, a volume's _data) stay 0755:
// they are what the container sees as its "/" or mount point. The private
// parent is what keeps the host's users out.
//
// mkdir(2) applies the umask, which only removes bits, so a directory made
// with its final mode is never wider than meant, even for an instant; a
// chmod after it undoes what the umask removed. A store made by an older
// ctrkit (everything 0755) is tightened the first time a command opens it.
//
//	mkdir -m 0700 DIR      # the same, in the shell

import (
	"os"
	"path/filepath"

	"ctrkit/internal/fsutil"
)

// Modes of ctrkit's directories; see above.
const (
	RootMode    os.FileMode = 0o711
	PrivateMode os.FileMode = 0o700
)

// EnsureRoot makes the ctrkit root (--root, CTRKIT_ROOT) 0711.
func EnsureRoot(root string) error { return fsutil.EnsureDir(root, RootMode) }

// EnsurePrivate makes ROOT/NAME (containers, layers, volumes) 0700, in a
// 0711 root.
func EnsurePrivate(root, name string) error {
	if err := EnsureRoot(root); err != nil {
		return err
	}
	return fsutil.EnsureDir(filepath.Join(root, name), PrivateMode)
}
