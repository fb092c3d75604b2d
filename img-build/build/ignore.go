package build

import (
	"io"
	"path"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Ignore is a .dockerignore file: one pattern a line, matched against
// paths relative to the build context. Patterns use filepath.Match syntax
// (* ? [a-z]) plus ** for any number of directories; a pattern starting
// with ! re-includes what an earlier pattern excluded; the last matching
// pattern decides. A pattern matching a directory excludes everything in
// it. Comments (#) and empty lines are skipped; a leading / is ignored.
//
// The file is read and matched by github.com/moby/patternmatcher, the
// code docker build itself uses, so a context excludes here exactly what
// it excludes there.
type Ignore struct {
	pm *patternmatcher.PatternMatcher
}

// ParseIgnore reads a .dockerignore.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	patterns, err := ignorefile.ReadAll(r)
	if err != nil {
		return nil, err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, err
	}
	return &Ignore{pm: pm}, nil
}

// Ignored reports whether rel (a slash-separated path relative to the
// context, without a leading ./) is excluded.
func (ig *Ignore) Ignored(rel string) bool {
	if ig == nil || rel == "." || rel == "" {
		return false
	}
	ignored, err := ig.pm.MatchesOrParentMatches(path.Clean(rel))
	return err == nil && ignored
}

// MayHoldIncluded reports whether a directory that is itself ignored may
// still hold a path a ! rule brings back, so a walk must enter it (the
// rule docker's own context walk applies).
func (ig *Ignore) MayHoldIncluded(dir string) bool {
	if ig == nil || !ig.pm.Exclusions() {
		return false
	}
	for _, p := range ig.pm.Patterns() {
		if !p.Exclusion() {
			continue
		}
		if strings.HasPrefix(p.String()+"/", dir+"/") || strings.ContainsAny(p.String(), "*?[") {
			return true
		}
	}
	return false
}
