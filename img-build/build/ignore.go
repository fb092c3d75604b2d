package build

import (
	"bufio"
	"io"
	"path"
	"regexp"
	"strings"
)

// Ignore is a .dockerignore file: one pattern a line, matched against
// paths relative to the build context. Patterns use filepath.Match syntax
// (* ? [a-z]) plus ** for any number of directories; a pattern starting
// with ! re-includes what an earlier pattern excluded; the last matching
// pattern decides. A pattern matching a directory excludes everything in
// it. Comments (#) and empty lines are skipped; a leading / is ignored.
type Ignore struct {
	rules []ignoreRule
}

type ignoreRule struct {
	pattern string
	re      *regexp.Regexp
	exclude bool // false for a ! rule
}

// ParseIgnore reads a .dockerignore.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	ig := &Ignore{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rule := ignoreRule{exclude: true}
		if strings.HasPrefix(line, "!") {
			rule.exclude = false
			line = strings.TrimSpace(line[1:])
		}
		line = path.Clean(strings.TrimPrefix(line, "/"))
		re, err := globRE(line)
		if err != nil {
			return nil, err
		}
		rule.pattern, rule.re = line, re
		ig.rules = append(ig.rules, rule)
	}
	return ig, sc.Err()
}

// globRE turns a pattern into a regexp matching whole paths.
func globRE(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				if i+1 < len(p) && p[i+1] == '/' {
					i++
					b.WriteString("(.*/)?") // **/ : zero or more directories
				} else {
					b.WriteString(".*")
				}
			} else {
				b.WriteString("[^/]*")
			}
		case '?':
			b.WriteString("[^/]")
		case '[':
			j := strings.IndexByte(p[i:], ']')
			if j < 0 {
				b.WriteString(`\[`)
				continue
			}
			cls := p[i+1 : i+j]
			if strings.HasPrefix(cls, "!") {
				cls = "^" + cls[1:]
			}
			b.WriteString("[" + cls + "]")
			i += j
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.Compile(b.String())
}

// Ignored reports whether rel (a slash-separated path relative to the
// context, without a leading ./) is excluded.
func (ig *Ignore) Ignored(rel string) bool {
	if ig == nil || rel == "." || rel == "" {
		return false
	}
	rel = path.Clean(rel)
	ignored := false
	for _, r := range ig.rules {
		if r.matches(rel) {
			ignored = r.exclude
		}
	}
	return ignored
}

// matches: the path itself or one of its parent directories matches.
func (r ignoreRule) matches(rel string) bool {
	for p := rel; p != "." && p != "/"; p = path.Dir(p) {
		if r.re.MatchString(p) {
			return true
		}
	}
	return false
}

// MayHoldIncluded reports whether a directory that is itself ignored may
// still hold a path a ! rule brings back, so a walk must enter it.
func (ig *Ignore) MayHoldIncluded(dir string) bool {
	if ig == nil {
		return false
	}
	for _, r := range ig.rules {
		if !r.exclude && (strings.HasPrefix(r.pattern, dir+"/") || strings.Contains(r.pattern, "*")) {
			return true
		}
	}
	return false
}
