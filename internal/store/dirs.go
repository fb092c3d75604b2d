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
//	STATE               0700   (docker's /run/docker: 0700)
//	ROOT/oci            0755   an OCI image layout, for skopeo and umoci
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
	"fmt"
	"os"
	"path/filepath"
)

// Modes of ctrkit's directories; see above.
const (
	RootMode    os.FileMode = 0o711
	PrivateMode os.FileMode = 0o700
)

// EnsureDir makes dir with exactly mode (its missing parents 0755), or
// takes the bits mode lacks away from an existing one (never adding any an
// administrator took away).
func EnsureDir(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(dir), err)
	}
	created := true
	if err := os.Mkdir(dir, mode); err != nil {
		if !os.IsExist(err) {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		created = false
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory: move it away, ctrkit keeps its files there", dir)
	}
	have, want := fi.Mode().Perm(), mode
	if !created {
		want = have & mode
	}
	if have == want {
		return nil
	}
	if err := os.Chmod(dir, want); err != nil {
		return fmt.Errorf("chmod %o %s: %w", want, dir, err)
	}
	return nil
}

// EnsureRoot makes the ctrkit root (--root, CTRKIT_ROOT) 0711.
func EnsureRoot(root string) error { return EnsureDir(root, RootMode) }

// EnsurePrivate makes ROOT/NAME (containers, layers, volumes) 0700, in a
// 0711 root.
func EnsurePrivate(root, name string) error {
	if err := EnsureRoot(root); err != nil {
		return err
	}
	return EnsureDir(filepath.Join(root, name), PrivateMode)
}

// EnsureState makes the state directory (--state, CTRKIT_STATE) 0700.
func EnsureState(state string) error { return EnsureDir(state, PrivateMode) }
