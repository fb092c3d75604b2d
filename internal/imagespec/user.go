package imagespec

// USER against the image's own files.
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
// field that is not a number is an error here. moby/sys/user, the
// well-kept library docker uses, ignores a bad number in just that way
// (its parser reads fields with strconv.Atoi and drops the error), which
// is why it is not used; the rules below are its GetExecUser's.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// IDs are the numbers a process runs as: process.user's uid, gid and
// additionalGids in the runtime spec.
type IDs struct {
	UID, GID       uint32
	AdditionalGids []uint32
}

// Apply sets them on a process.
func (ids IDs) Apply(p *specs.Process) {
	p.User.UID, p.User.GID = ids.UID, ids.GID
	p.User.AdditionalGids = ids.AdditionalGids
}

// Numeric reads USER when it is "uid" or "uid:gid": the numbers, with
// group 0 when none is given. ok is false when a part is a name.
func Numeric(user string) (uid, gid uint32, ok bool) {
	us, gs, hasGroup := strings.Cut(user, ":")
	u, err := strconv.ParseUint(us, 10, 32)
	if err != nil {
		return 0, 0, false
	}
	if hasGroup {
		g, err := strconv.ParseUint(gs, 10, 32)
		if err != nil {
			return 0, 0, false
		}
		gid = uint32(g)
	}
	return uint32(u), gid, true
}

// Resolve resolves USER ("name", "uid", "name:group", "uid:gid", …)
// against the root filesystem rootfs, by docker's rules:
//
//   - the user part names a line of /etc/passwd by name or by uid; that
//     line gives the uid and the primary group. A name no line has is an
//     error; a number no line has is that uid, with group 0.
//   - a group part replaces the primary group: a name is looked up in
//     /etc/group (none: an error), a number is taken as is.
//   - with no group part, a user found in /etc/passwd also gets, as
//     supplementary groups, every group of /etc/group that lists its name.
func Resolve(rootfs, user string) (IDs, error) {
	r, err := os.OpenRoot(rootfs)
	if err != nil {
		return IDs{}, fmt.Errorf("image USER %q: %w", user, err)
	}
	defer r.Close()
	fail := func(err error) (IDs, error) { return IDs{}, fmt.Errorf("image USER %q: %w", user, err) }

	name, group, hasGroup := strings.Cut(user, ":")
	var ids IDs
	uid, numeric := parseID(name)
	match := func(f []string) bool { return f[0] == name }
	if numeric {
		match = func(f []string) bool { n, ok := parseID(f[2]); return ok && n == uid }
	}
	e, err := lookup(r, "etc/passwd", match)
	switch {
	case err != nil:
		return fail(err)
	case e != nil:
		ids.UID, ids.GID = e.id, e.gid
	case numeric:
		ids.UID = uid
	default:
		return fail(errors.New("no such user in the image's /etc/passwd (hint: add it in the image, or give a numeric uid)"))
	}

	if hasGroup {
		if gid, ok := parseID(group); ok {
			ids.GID = gid
			return ids, nil
		}
		g, err := lookup(r, "etc/group", func(f []string) bool { return f[0] == group })
		if err != nil {
			return fail(err)
		}
		if g == nil {
			return fail(fmt.Errorf("no group %q in the image's /etc/group", group))
		}
		ids.GID = g.id
		return ids, nil
	}
	if e != nil {
		if ids.AdditionalGids, err = memberOf(r, e.name); err != nil {
			return fail(err)
		}
	}
	return ids, nil
}

// entry is a line of /etc/passwd (id is the uid, gid the primary group) or
// of /etc/group ("name:password:GID:members"; id is the gid).
type entry struct {
	name    string
	id, gid uint32
}

// lookup finds the first line of file (etc/passwd or etc/group) under r
// that match accepts (given its fields, at least three): nil when the file
// or the line is not there, an error when the line found holds an id
// that is not a number.
func lookup(r *os.Root, file string, match func([]string) bool) (*entry, error) {
	var found *entry
	err := scan(r, file, func(n int, fs []string) (bool, error) {
		if !match(fs) {
			return true, nil
		}
		e, err := parseEntry(file, n, fs)
		found = e
		return false, err
	})
	return found, err
}

// memberOf lists the gids of the groups in /etc/group that name user.
func memberOf(r *os.Root, user string) ([]uint32, error) {
	var gids []uint32
	err := scan(r, "etc/group", func(n int, fs []string) (bool, error) {
		if len(fs) < 4 || !slices.Contains(strings.Split(fs[3], ","), user) {
			return true, nil
		}
		e, err := parseEntry("etc/group", n, fs)
		if err == nil && !slices.Contains(gids, e.id) {
			gids = append(gids, e.id)
		}
		return err == nil, err
	})
	return gids, err
}

// scan calls line with each line's number and its fields (lines with fewer
// than three are skipped) until it returns false or an error. A missing
// file has no lines.
func scan(r *os.Root, file string, line func(int, []string) (bool, error)) error {
	f, err := r.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return scanLines(f, file, line)
}

// scanLines is scan over the content of file.
func scanLines(rd io.Reader, file string, line func(int, []string) (bool, error)) error {
	sc := bufio.NewScanner(rd)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Split(sc.Text(), ":")
		if len(fs) < 3 {
			continue
		}
		if more, err := line(n, fs); err != nil || !more {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read /%s: %w", file, err)
	}
	return nil
}

// Lookup finds name in data, the content of an /etc/passwd (file
// "etc/passwd") or /etc/group ("etc/group") that is not on disk (img-build
// reads them from the image's layers for COPY --chown=NAME): its id, and
// for passwd its primary gid. ok is false when no line names it; a line
// whose ids are not numbers is an error, as in Resolve.
func Lookup(data []byte, file, name string) (id, gid uint32, ok bool, err error) {
	var found *entry
	err = scanLines(bytes.NewReader(data), file, func(n int, fs []string) (bool, error) {
		if fs[0] != name {
			return true, nil
		}
		found, err = parseEntry(file, n, fs)
		return false, err
	})
	if err != nil || found == nil {
		return 0, 0, false, err
	}
	return found.id, found.gid, true, nil
}

// parseEntry reads the ids of line n, strictly.
func parseEntry(file string, n int, fs []string) (*entry, error) {
	e := &entry{name: fs[0]}
	var err error
	if e.id, err = number(fs[2]); err != nil {
		return nil, fmt.Errorf("/%s:%d: %q: id %w", file, n, fs[0], err)
	}
	if file == "etc/passwd" && len(fs) >= 4 {
		if e.gid, err = number(fs[3]); err != nil {
			return nil, fmt.Errorf("/%s:%d: %q: group id %w", file, n, fs[0], err)
		}
	}
	return e, nil
}

// parseID reads a uid or gid given as a number.
func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err == nil
}

// number parses a uid or gid field: a decimal below 2^32.
func number(s string) (uint32, error) {
	n, ok := parseID(s)
	if !ok {
		return 0, fmt.Errorf("%q is not a number from 0 to 4294967295", s)
	}
	return n, nil
}
