// Package volume keeps named volumes and turns -v, --tmpfs and --read-only
// into the "mounts" of an OCI runtime spec.
//
// A named volume is a plain directory, ROOT/volumes/NAME/_data (Docker's
// layout), that outlives every container: the runtime bind-mounts it into
// the container (`mount --rbind ROOT/volumes/NAME/_data ROOTFS/PATH`), so
// writes go straight to it and never to the container's upper layer. A
// bind mount is the same mechanism with a directory of the host's choosing.
// A tmpfs lives in memory and dies with the container's mount namespace.
package volume

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"ctrkit/internal/ident"
	"ctrkit/internal/store"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Volume is one named volume.
type Volume struct {
	Name       string    `json:"name"`
	Mountpoint string    `json:"mountpoint"` // ROOT/volumes/NAME/_data
	Created    time.Time `json:"created"`
	Size       int64     `json:"size"` // bytes of regular files in it
}

// Dir is ROOT/volumes.
func Dir(root string) string { return filepath.Join(root, "volumes") }

// Create makes volume name if it does not exist and returns it; created
// says whether it is new.
func Create(root, name string) (v *Volume, created bool, err error) {
	if !ident.Valid(name, 128) {
		return nil, false, fmt.Errorf("volume name %q: use letters, digits, '_', '.' and '-', starting with a letter or digit", name)
	}
	if err := store.EnsurePrivate(root, "volumes"); err != nil {
		return nil, false, err
	}
	data := filepath.Join(Dir(root), name, "_data")
	if _, err := os.Stat(data); err == nil {
		v, err := Inspect(root, name)
		return v, false, err
	}
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, false, fmt.Errorf("create volume %s: %w", name, err)
	}
	v, err = Inspect(root, name)
	return v, true, err
}

// Inspect describes volume name.
func Inspect(root, name string) (*Volume, error) {
	if !ident.Valid(name, 128) {
		return nil, fmt.Errorf("volume name %q is not valid", name)
	}
	data := filepath.Join(Dir(root), name, "_data")
	fi, err := os.Stat(data)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no volume %q (fs-layer volume ls lists them)", name)
	}
	if err != nil {
		return nil, err
	}
	v := &Volume{Name: name, Mountpoint: data, Created: fi.ModTime().UTC()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		v.Created = time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC()
	}
	filepath.Walk(data, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			v.Size += fi.Size()
		}
		return nil
	})
	return v, nil
}

// List returns every volume.
func List(root string) ([]*Volume, error) {
	ents, err := os.ReadDir(Dir(root))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var vs []*Volume
	for _, e := range ents {
		if v, err := Inspect(root, e.Name()); err == nil {
			vs = append(vs, v)
		}
	}
	return vs, nil
}

// Remove deletes volume name and its content.
func Remove(root, name string) error {
	if _, err := Inspect(root, name); err != nil {
		return err
	}
	return os.RemoveAll(filepath.Join(Dir(root), name))
}

// Spec is a parsed -v argument.
type Spec struct {
	Name     string // named volume, or ""
	Source   string // host directory (a bind), or the volume's _data
	Dest     string // path inside the container
	ReadOnly bool
}

// Parse reads docker's -v syntax: NAME:/path[:ro|rw] for a named volume,
// /host/dir:/path[:ro|rw] for a bind mount (the source starts with / or .).
func Parse(arg string) (Spec, error) {
	parts := strings.Split(arg, ":")
	var s Spec
	switch len(parts) {
	case 2:
	case 3:
		switch parts[2] {
		case "ro":
			s.ReadOnly = true
		case "rw":
		default:
			return s, fmt.Errorf("-v %s: the mode must be ro or rw, not %q", arg, parts[2])
		}
	default:
		return s, fmt.Errorf("-v %s: want NAME:/PATH[:ro] or /HOST/DIR:/PATH[:ro]", arg)
	}
	src, dest := parts[0], parts[1]
	if !strings.HasPrefix(dest, "/") {
		return s, fmt.Errorf("-v %s: the path in the container must be absolute", arg)
	}
	s.Dest = filepath.Clean(dest)
	if strings.HasPrefix(src, "/") || strings.HasPrefix(src, ".") {
		abs, err := filepath.Abs(src)
		if err != nil {
			return s, err
		}
		if _, err := os.Stat(abs); err != nil {
			return s, fmt.Errorf("-v %s: bind source: %w", arg, err)
		}
		s.Source = abs
		return s, nil
	}
	if !ident.Valid(src, 128) {
		return s, fmt.Errorf("-v %s: %q is neither a host path (starting with / or .) nor a volume name", arg, src)
	}
	s.Name = src
	return s, nil
}

// Mount is the runtime spec mount for s: a recursive bind, read-only if
// asked (the runtime binds, then remounts with MS_RDONLY).
func (s Spec) Mount() specs.Mount {
	mode := "rw"
	if s.ReadOnly {
		mode = "ro"
	}
	return specs.Mount{Destination: s.Dest, Type: "bind", Source: s.Source, Options: []string{"rbind", mode}}
}

// Tmpfs is the spec mount for --tmpfs /path[:OPTIONS] (docker's syntax,
// e.g. /run:size=64m): a fresh tmpfs, mode 1777 unless told otherwise.
func Tmpfs(arg string) (specs.Mount, error) {
	dest, opts, _ := strings.Cut(arg, ":")
	if !strings.HasPrefix(dest, "/") {
		return specs.Mount{}, fmt.Errorf("--tmpfs %s: the path must be absolute", arg)
	}
	o := []string{"nosuid", "nodev"}
	if opts != "" {
		o = append(o, strings.Split(opts, ",")...)
	}
	if !strings.Contains(opts, "mode=") {
		o = append(o, "mode=1777")
	}
	return specs.Mount{Destination: filepath.Clean(dest), Type: "tmpfs", Source: "tmpfs", Options: o}, nil
}

// String is the volume as indented JSON, as `fs-layer volume inspect` prints it.
func (v *Volume) String() string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
