// Package mountinfo reads /proc/self/mountinfo, the kernel's list of the
// mounts of the caller's mount namespace (proc(5)). One line a mount:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//	ID PARENT DEV ROOT MOUNTPOINT OPTIONS [OPTIONAL…] - FSTYPE SOURCE SUPEROPTIONS
//
// `findmnt` reads the same file.
package mountinfo

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// Mount is one line of mountinfo.
type Mount struct {
	ID, Parent   string
	Mountpoint   string
	Optional     string // propagation: "shared:N", "master:N" … or ""
	FSType       string
	Source       string
	SuperOptions string // the filesystem's own options; cgroup v1 names its controllers here
}

// Read returns the mounts of the caller's mount namespace.
func Read() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f), nil
}

// Parse reads mountinfo lines from r, skipping malformed ones.
func Parse(r io.Reader) []Mount {
	var ms []Mount
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		left, right, ok := strings.Cut(sc.Text(), " - ")
		f, g := strings.Fields(left), strings.Fields(right)
		if !ok || len(f) < 6 || len(g) < 2 {
			continue
		}
		m := Mount{ID: f[0], Parent: f[1], Mountpoint: Unescape(f[4]), Optional: strings.Join(f[6:], " "),
			FSType: g[0], Source: Unescape(g[1])}
		if len(g) > 2 {
			m.SuperOptions = g[2]
		}
		ms = append(ms, m)
	}
	return ms
}

// Unescape decodes mountinfo's octal escapes (\040 for a space).
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsMountpoint reports whether path is a mount point.
func IsMountpoint(path string) (bool, error) {
	ms, err := Read()
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.Mountpoint == path {
			return true, nil
		}
	}
	return false, nil
}

// Below returns the first mount point strictly below dir, or "": rm -rf
// of dir would walk into it and delete what is mounted there.
func Below(dir string) (string, error) {
	ms, err := Read()
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if strings.HasPrefix(m.Mountpoint, strings.TrimSuffix(dir, "/")+"/") {
			return m.Mountpoint, nil
		}
	}
	return "", nil
}
