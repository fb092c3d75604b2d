package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"ctrkit/internal/explain"
	"golang.org/x/sys/unix"
)

// mountFlag maps an option of the runtime spec (and of mount(8)) to the
// MS_* flag it stands for; clear means the option removes the flag.
type mountFlag struct {
	flag  uintptr
	clear bool
}

var mountFlags = map[string]mountFlag{
	"ro":          {unix.MS_RDONLY, false},
	"rw":          {unix.MS_RDONLY, true},
	"nosuid":      {unix.MS_NOSUID, false},
	"suid":        {unix.MS_NOSUID, true},
	"nodev":       {unix.MS_NODEV, false},
	"dev":         {unix.MS_NODEV, true},
	"noexec":      {unix.MS_NOEXEC, false},
	"exec":        {unix.MS_NOEXEC, true},
	"sync":        {unix.MS_SYNCHRONOUS, false},
	"async":       {unix.MS_SYNCHRONOUS, true},
	"noatime":     {unix.MS_NOATIME, false},
	"atime":       {unix.MS_NOATIME, true},
	"nodiratime":  {unix.MS_NODIRATIME, false},
	"diratime":    {unix.MS_NODIRATIME, true},
	"relatime":    {unix.MS_RELATIME, false},
	"norelatime":  {unix.MS_RELATIME, true},
	"strictatime": {unix.MS_STRICTATIME, false},
	"remount":     {unix.MS_REMOUNT, false},
	"bind":        {unix.MS_BIND, false},
	"rbind":       {unix.MS_BIND | unix.MS_REC, false},
}

// propagationFlags are applied by a separate mount(2) call: the kernel
// takes a propagation change only on its own.
var propagationFlags = map[string]uintptr{
	"private":     unix.MS_PRIVATE,
	"rprivate":    unix.MS_PRIVATE | unix.MS_REC,
	"shared":      unix.MS_SHARED,
	"rshared":     unix.MS_SHARED | unix.MS_REC,
	"slave":       unix.MS_SLAVE,
	"rslave":      unix.MS_SLAVE | unix.MS_REC,
	"unbindable":  unix.MS_UNBINDABLE,
	"runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// flagNames is the order flags are printed in, with their mount(8) names.
var flagNames = []struct {
	flag      uintptr
	name, opt string
}{
	{unix.MS_RDONLY, "MS_RDONLY", "ro"},
	{unix.MS_NOSUID, "MS_NOSUID", "nosuid"},
	{unix.MS_NODEV, "MS_NODEV", "nodev"},
	{unix.MS_NOEXEC, "MS_NOEXEC", "noexec"},
	{unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS", "sync"},
	{unix.MS_REMOUNT, "MS_REMOUNT", "remount"},
	{unix.MS_NOATIME, "MS_NOATIME", "noatime"},
	{unix.MS_NODIRATIME, "MS_NODIRATIME", "nodiratime"},
	{unix.MS_BIND, "MS_BIND", "bind"},
	{unix.MS_MOVE, "MS_MOVE", "move"},
	{unix.MS_REC, "MS_REC", ""},
	{unix.MS_UNBINDABLE, "MS_UNBINDABLE", "unbindable"},
	{unix.MS_PRIVATE, "MS_PRIVATE", "private"},
	{unix.MS_SLAVE, "MS_SLAVE", "slave"},
	{unix.MS_SHARED, "MS_SHARED", "shared"},
	{unix.MS_RELATIME, "MS_RELATIME", "relatime"},
	{unix.MS_STRICTATIME, "MS_STRICTATIME", "strictatime"},
}

// MountFlagNames renders flags by name, e.g. "MS_BIND|MS_REC".
func MountFlagNames(flags uintptr) string {
	var names []string
	for _, f := range flagNames {
		if flags&f.flag != 0 {
			names = append(names, f.name)
		}
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

// parseMountOptions splits runtime-spec options into MS_* flags,
// propagation flags and the data string the filesystem itself reads
// (e.g. "mode=755,size=65536k").
func parseMountOptions(opts []string) (flags, propagation uintptr, data string) {
	var rest []string
	for _, o := range opts {
		if f, ok := mountFlags[o]; ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
		} else if p, ok := propagationFlags[o]; ok {
			propagation |= p
		} else {
			rest = append(rest, o)
		}
	}
	return flags, propagation, strings.Join(rest, ",")
}

// mountCommand is the mount(8) line that does what mount(2) is asked.
// mountNoCanon adds --no-canonicalize to the mount commands explained: in
// a user namespace, mount(8) would make "proc" the absolute path, whose
// directories root inside may not search (ns-enter's state is private);
// the kernel resolves the relative path from the current directory.
var mountNoCanon bool

func mountCommand(source, target, fstype string, flags uintptr, data string) string {
	var opts []string
	for _, f := range flagNames {
		if flags&f.flag != 0 && f.opt != "" && f.flag&(unix.MS_BIND|unix.MS_MOVE|unix.MS_PRIVATE|unix.MS_SLAVE|unix.MS_SHARED|unix.MS_UNBINDABLE) == 0 {
			opts = append(opts, f.opt)
		}
	}
	if data != "" {
		opts = append(opts, data)
	}
	words := []string{"mount"}
	if mountNoCanon {
		words = append(words, "--no-canonicalize")
	}
	rec := flags&unix.MS_REC != 0
	switch {
	case flags&unix.MS_MOVE != 0:
		words = append(words, "--move")
	case flags&unix.MS_BIND != 0 && flags&unix.MS_REMOUNT == 0:
		words = append(words, map[bool]string{false: "--bind", true: "--rbind"}[rec])
	case flags&(unix.MS_PRIVATE|unix.MS_SLAVE|unix.MS_SHARED|unix.MS_UNBINDABLE) != 0:
		for _, f := range flagNames {
			if flags&f.flag != 0 && f.flag&(unix.MS_PRIVATE|unix.MS_SLAVE|unix.MS_SHARED|unix.MS_UNBINDABLE) != 0 {
				words = append(words, "--make-"+map[bool]string{false: "", true: "r"}[rec]+f.opt)
			}
		}
		return explain.Join(append(words, target))
	case flags&unix.MS_REMOUNT != 0:
		if flags&unix.MS_BIND != 0 {
			opts = append([]string{"bind"}, opts...)
		}
	case fstype != "":
		words = append(words, "-t", fstype)
	}
	if len(opts) > 0 {
		words = append(words, "-o", strings.Join(opts, ","))
	}
	if flags&unix.MS_REMOUNT != 0 {
		return explain.Join(append(words, target))
	}
	return explain.Join(append(words, source, target))
}

// mount calls mount(2) and explains it; errors name the call with its flags.
func mount(log *explain.Log, source, target, fstype string, flags uintptr, data string) error {
	explainMount(log, source, target, fstype, flags, data)
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return &mountError{source, target, fstype, flags, data, err}
	}
	return nil
}

func explainMount(log *explain.Log, source, target, fstype string, flags uintptr, data string) {
	log.Step(fmt.Sprintf("mount(%q, %q, %q, %s, %q)", source, target, fstype, MountFlagNames(flags), data),
		mountCommand(source, target, fstype, flags, data))
}

type mountError struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
	err                    error
}

func (e *mountError) Error() string {
	msg := fmt.Sprintf("mount %q on %q (type %q, flags %s, data %q): %v", e.source, e.target, e.fstype, MountFlagNames(e.flags), e.data, e.err)
	switch {
	case errors.Is(e.err, unix.EPERM):
		msg += " (needs CAP_SYS_ADMIN in the user namespace that owns the mount namespace)"
	case errors.Is(e.err, unix.EACCES):
		msg += " (in a user namespace, root inside is an ordinary uid outside: it needs search permission on every directory above the path)"
	}
	return msg
}

func (e *mountError) Unwrap() error { return e.err }

// inRoot resolves path as if root were "/": symlinks are followed inside
// root and ".." never climbs above it, so a rootfs cannot redirect a mount
// to a host path (the same rule as github.com/cyphar/filepath-securejoin).
func inRoot(root, path string) (string, error) {
	resolved := "" // relative to root, clean, free of symlinks
	rest := path
	for links := 0; ; {
		rest = strings.TrimLeft(rest, "/")
		if rest == "" {
			return filepath.Join(root, resolved), nil
		}
		var part string
		part, rest, _ = strings.Cut(rest, "/")
		switch part {
		case ".":
			continue
		case "..":
			if resolved = filepath.Dir(resolved); resolved == "." {
				resolved = ""
			}
			continue
		}
		next := filepath.Join(resolved, part)
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			resolved = next // not a symlink, or not there yet
			continue
		}
		if links++; links > 255 {
			return "", fmt.Errorf("resolve %q in %s: too many levels of symbolic links", path, root)
		}
		if filepath.IsAbs(target) {
			resolved = ""
		}
		rest = target + "/" + rest
	}
}

// MountOptions lists the mount options ns-enter understands, for
// `ctrkit-runc features`.
func MountOptions() []string {
	var out []string
	for o := range mountFlags {
		out = append(out, o)
	}
	for o := range propagationFlags {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}
