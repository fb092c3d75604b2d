package explain

import "strings"

// A Line is one explain line taken apart: the tool that printed it and
// its kernel half, shell half, or comment.
type Line struct {
	Tool    string
	Kernel  string // the kernel call: "mkdir(\"/x\", 0755)"
	Shell   string // its shell equivalent: "mkdir -p /x"
	Note    string // a comment line (# …), without the "# "
	Content bool   // a line of a file's contents (> …), after File
}

// Parse takes an explain line apart, the inverse of Step, Note and File;
// ok is false for a line that is not one (a program's own output).
func Parse(s string) (l Line, ok bool) {
	if !strings.HasPrefix(s, "[") {
		return l, false
	}
	end := strings.Index(s, "] ")
	if end < 2 {
		return l, false
	}
	l.Tool = s[1:end]
	for _, r := range l.Tool {
		if !(r >= 'a' && r <= 'z' || r == '-') {
			return Line{}, false
		}
	}
	rest := s[end+2:]
	switch {
	case strings.HasPrefix(rest, "# "):
		l.Note = rest[2:]
	case strings.HasPrefix(rest, "> "):
		l.Content = true
	case strings.HasPrefix(rest, "$ "):
		l.Shell = rest[2:]
	default:
		l.Kernel, l.Shell, _ = strings.Cut(rest, "  $ ")
	}
	return l, true
}

// Call is the name of the kernel call a step starts with: "mkdir" for
// mkdir("/x", 0755), "RTM_NEWLINK" for a netlink message.
func (l Line) Call() string {
	k := strings.TrimSpace(l.Kernel)
	if i := strings.IndexAny(k, "( "); i > 0 {
		return k[:i]
	}
	return k
}
