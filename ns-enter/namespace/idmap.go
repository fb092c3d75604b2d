package namespace

import (
	"fmt"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// maxIDMapLines is the kernel's limit on lines in uid_map and gid_map
// (340 since Linux 4.15, 5 before).
const maxIDMapLines = 340

// ParseIDMap parses one id map line as written to /proc/PID/uid_map:
// "INSIDE OUTSIDE COUNT" (colons are accepted in place of spaces).
// Ids INSIDE…INSIDE+COUNT-1 in the namespace are OUTSIDE… on the host.
func ParseIDMap(s string) (specs.LinuxIDMapping, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ':' || r == '\t' })
	if len(fields) != 3 {
		return specs.LinuxIDMapping{}, fmt.Errorf("invalid id map %q: want \"INSIDE OUTSIDE COUNT\", e.g. \"0 100000 65536\"", s)
	}
	var n [3]uint32
	for i, f := range fields {
		v, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			return specs.LinuxIDMapping{}, fmt.Errorf("invalid id map %q: %q is not an id (0 to 4294967295)", s, f)
		}
		n[i] = uint32(v)
	}
	m := specs.LinuxIDMapping{ContainerID: n[0], HostID: n[1], Size: n[2]}
	if m.Size == 0 {
		return m, fmt.Errorf("invalid id map %q: COUNT must be at least 1", s)
	}
	if uint64(m.ContainerID)+uint64(m.Size) > 1<<32-1 || uint64(m.HostID)+uint64(m.Size) > 1<<32-1 {
		return m, fmt.Errorf("invalid id map %q: the range runs past id 4294967294", s)
	}
	return m, nil
}

// CheckIDMaps applies the kernel's rules for a whole map: at most 340 lines,
// and no two lines overlapping inside or outside.
func CheckIDMaps(what string, ms []specs.LinuxIDMapping) error {
	if len(ms) > maxIDMapLines {
		return fmt.Errorf("%s has %d lines: the kernel takes at most %d", what, len(ms), maxIDMapLines)
	}
	for i, a := range ms {
		for _, b := range ms[i+1:] {
			if overlap(a.ContainerID, b.ContainerID, a.Size, b.Size) {
				return fmt.Errorf("%s: lines %q and %q overlap inside the namespace", what, FormatIDMap(a), FormatIDMap(b))
			}
			if overlap(a.HostID, b.HostID, a.Size, b.Size) {
				return fmt.Errorf("%s: lines %q and %q overlap on the host", what, FormatIDMap(a), FormatIDMap(b))
			}
		}
	}
	return nil
}

func overlap(a, b, na, nb uint32) bool {
	return uint64(a) < uint64(b)+uint64(nb) && uint64(b) < uint64(a)+uint64(na)
}

// FormatIDMap renders m as a line of /proc/PID/uid_map.
func FormatIDMap(m specs.LinuxIDMapping) string {
	return fmt.Sprintf("%d %d %d", m.ContainerID, m.HostID, m.Size)
}

// Maps reports whether id (inside the namespace) is covered by ms.
func Maps(ms []specs.LinuxIDMapping, id uint32) bool {
	for _, m := range ms {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return true
		}
	}
	return false
}

// HostID is the host id that id inside the namespace maps to, and whether
// ms maps it at all.
func HostID(ms []specs.LinuxIDMapping, id uint32) (uint32, bool) {
	for _, m := range ms {
		if id >= m.ContainerID && uint64(id) < uint64(m.ContainerID)+uint64(m.Size) {
			return m.HostID + (id - m.ContainerID), true
		}
	}
	return 0, false
}
