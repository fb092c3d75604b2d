package main

// The diagram's arrows: runs of explain lines grouped into one label each.

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"

	"ctrkit/internal/explain"
)

// A stepGroup is a run of steps drawn as one arrow: the same call
// repeated (mkdir ×7), or two calls taking turns (mkdir, mount, mkdir,
// mount: mkdir ×2 + mount ×2).
type stepGroup struct {
	calls []string
	count map[string]int
	first string
	args  []string // the first path of each step
	cmds  []string // the shell command of each step: "ip link add"
}

func groupSteps(steps []explain.Line) []*stepGroup {
	var gs []*stepGroup
	var g *stepGroup
	for i, l := range steps {
		call := l.Call()
		next := ""
		if i+1 < len(steps) {
			next = steps[i+1].Call()
		}
		join := g != nil && call != "clone" && g.calls[0] != "clone" &&
			(slices.Contains(g.calls, call) || len(g.calls) == 1 && next == g.calls[0])
		if !join {
			g = &stepGroup{count: map[string]int{}, first: l.Kernel}
			gs = append(gs, g)
		}
		if g.count[call] == 0 {
			g.calls = append(g.calls, call)
		}
		g.count[call]++
		g.args = append(g.args, firstPath(l.Kernel))
		if c := command(l.Shell); c != "" {
			g.cmds = append(g.cmds, c)
		}
	}
	return gs
}

// command is the tool and verbs a shell half starts with ("ip link add"
// of "ip link add ctrkit0 type bridge"), or "" when that says no more than
// the call's name (mkdir, mount -t …) or it is a comment.
func command(shell string) string {
	var words []string
	for _, w := range strings.Fields(shell) {
		if len(words) == 3 || strings.HasPrefix(w, "-") || strings.ContainsAny(w, "/.=#'\"$") {
			break
		}
		words = append(words, w)
	}
	if len(words) < 2 {
		return ""
	}
	return strings.Join(words, " ")
}

var quoted = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"([^"]*/[^"]*)"`) })

// firstPath is the first quoted argument holding a path, or "".
func firstPath(kernel string) string {
	if m := quoted().FindStringSubmatch(kernel); m != nil {
		return m[1]
	}
	return ""
}

// label is the group's arrow text: the one call as made, or the calls
// counted, with the path they share.
func (g *stepGroup) label(short *strings.Replacer) string {
	if len(g.calls) == 1 && g.count[g.calls[0]] == 1 {
		return trim(short.Replace(g.first), 72)
	}
	parts := make([]string, len(g.calls))
	for i, c := range g.calls {
		parts[i] = fmt.Sprintf("%s ×%d", c, g.count[c])
	}
	text := strings.Join(parts, " + ")
	args := make([]string, len(g.args))
	for i, a := range g.args {
		args[i] = short.Replace(a)
	}
	// The files, when they are a few: upper, work, rootfs; cgroup.procs.
	var bases []string
	for _, a := range args {
		if b := path.Base(a); a != "" && !slices.Contains(bases, b) {
			bases = append(bases, b)
		}
	}
	few := ""
	if len(bases) > 0 && len(bases) <= 4 && !slices.Contains(args, "") {
		few = strings.Join(bases, ", ")
	}
	prefix := commonPrefix(args)
	if i := strings.LastIndex(prefix, "/"); i > 0 {
		// Not the directories made or removed under a prefix: parents
		// (/sys/fs/cgroup/memory/ctrkit) come and go with other
		// containers, and the diagram should not.
		if few != "" && !slices.Contains(g.calls, "mkdir") && !slices.Contains(g.calls, "rmdir") {
			return trim(text+" ("+prefix[:i+1]+"…: "+few+")", 100)
		}
		return text + " (" + prefix[:i+1] + "…)"
	}
	var cmds []string
	for _, c := range g.cmds {
		if !slices.Contains(cmds, c) {
			cmds = append(cmds, c)
		}
	}
	switch {
	case len(cmds) > 0 && len(cmds) <= 3:
		text += ": " + strings.Join(cmds, ", ")
	case few != "":
		text += ": " + few
	}
	return text
}

func commonPrefix(ss []string) string {
	if len(ss) == 0 || ss[0] == "" {
		return ""
	}
	p := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

func trim(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
