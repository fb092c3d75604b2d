// Package user turns an image's USER, given by name, into the numbers the
// kernel knows, by reading the image's own /etc/passwd and /etc/group.
//
// Why the image's files and not the host's: a name means nothing to the
// kernel, and "app" may be uid 1000 on the host and uid 100 in the image.
// docker resolves USER against the container's root filesystem, so we do
// too. Why through os.Root: the files belong to the image, and an image
// can ship /etc/passwd as a symlink to /host/../../etc/shadow or any other
// path; os.Root refuses to follow a link out of the root filesystem, so
// the lookup never reads a host file.
//
// Why a strict parser: /etc/passwd is "name:password:UID:GID:gecos:home:shell".
// A parser that ignores a bad number turns "app:x:oops:0:…" into uid 0,
// root, which is the one mistake a container runtime must not make; a
// field that is not a number is an error here. The format is small enough
// that the parser is the lesson (moby/sys/user, the well-kept library for
// it, ignores a bad number in the same way, which is why it is not used).
package user

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// IDs are the numbers a process runs as: process.user.uid and .gid in the
// runtime spec.
type IDs struct {
	UID, GID uint32
}

// Resolve resolves USER (name, uid, name:group, uid:gid, …) against the
// root filesystem rootfs. A numeric user needs no /etc/passwd; a user
// found by name brings its primary group from /etc/passwd unless a group
// is given; a named group is looked up in /etc/group.
func Resolve(rootfs, user string) (IDs, error) {
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return IDs{}, fmt.Errorf("image USER %q: %w", user, err)
	}
	defer r.Close()
	name, group, hasGroup := strings.Cut(user, ":")
	var ids IDs
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		ids.UID = uint32(n)
	} else {
		e, err := lookup(r, "etc/passwd", name)
		if err != nil {
			return IDs{}, fmt.Errorf("image USER %q: %w", user, err)
		}
		if e == nil {
			return IDs{}, fmt.Errorf("image USER %q: no such user in the image's /etc/passwd (hint: add it in the image, or give a numeric uid)", user)
		}
		ids.UID, ids.GID = e.id, e.gid
	}
	if !hasGroup {
		return ids, nil
	}
	if n, err := strconv.ParseUint(group, 10, 32); err == nil {
		ids.GID = uint32(n)
		return ids, nil
	}
	e, err := lookup(r, "etc/group", group)
	if err != nil {
		return IDs{}, fmt.Errorf("image USER %q: %w", user, err)
	}
	if e == nil {
		return IDs{}, fmt.Errorf("image USER %q: no group %q in the image's /etc/group", user, group)
	}
	ids.GID = e.id
	return ids, nil
}

// entry is a line of /etc/passwd (id is the uid, gid the primary group) or
// of /etc/group ("name:password:GID:members"; id is the gid).
type entry struct {
	id, gid uint32
}

// lookup finds name in file (etc/passwd or etc/group) under r: nil when
// the file or the name is not there, an error when the line found holds a
// field that is not a number.
func lookup(r *os.Root, file, name string) (*entry, error) {
	f, err := r.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Split(sc.Text(), ":")
		if len(fs) < 3 || fs[0] != name {
			continue
		}
		id, err := number(fs[2])
		if err != nil {
			return nil, fmt.Errorf("/%s:%d: %q: id %w", file, n, name, err)
		}
		e := &entry{id: id}
		if file == "etc/passwd" && len(fs) >= 4 {
			if e.gid, err = number(fs[3]); err != nil {
				return nil, fmt.Errorf("/%s:%d: %q: group id %w", file, n, name, err)
			}
		}
		return e, nil
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /%s: %w", file, err)
	}
	return nil, nil
}

// number parses a uid or gid field: a decimal below 2^32.
func number(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number from 0 to 4294967295", s)
	}
	return uint32(n), nil
}
