package main

// ctr-run --diagram FILE: a Mermaid sequence diagram of the run that really
// happened, drawn from the explain log. Every kernel step of every stage
// already goes through internal/explain as one line on stderr
// ("[fs-layer] mount(…)  $ mount -t overlay …"), and ctr-run already turns
// those lines on in every process it starts (CTRKIT_EXPLAIN=1 in the
// stages' environment; CTRKIT_EXPLAIN_FD brings the supervisor's and
// ns-enter's back for -d). So --diagram turns explain mode on, gives the
// stages a pipe as their stderr, and reads it: explain lines are recorded
// (and shown too when --explain asked for them), any other line passes
// through to our stderr. A pipe, not a Go writer: each stage writes its
// lines into it with one write(2) each, which the kernel keeps whole
// (PIPE_BUF), so the lines of stages running at once never mix.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"ctrkit/internal/cli"
	"ctrkit/internal/explain"
	"ctrkit/internal/mermaid"
)

// diagramFlag is run's --diagram.
type diagramFlag struct {
	Diagram string `help:"Write a Mermaid sequence diagram of the run to FILE (- for stdout): each process and the kernel calls it made, taken from the explain log." placeholder:"FILE"`
}

// diagramRecorder reads the run's stderr and keeps its explain lines.
type diagramRecorder struct {
	path     string
	echo     bool // --explain as well: the lines go on to stderr
	detached bool
	root     string
	state    string
	stdout   io.Writer // ctr-run's own streams: the diagram with "-", lines passed on
	stderr   io.Writer
	w        *os.File // the stderr every process of the run gets
	r        *os.File
	done     chan struct{}
	lines    []explain.Line
}

func newDiagram(path string, g *cli.Globals, detached bool, s *Stdio) (*diagramRecorder, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("--diagram: %w", err)
	}
	d := &diagramRecorder{path: path, echo: g.Explain, detached: detached, root: g.Root, state: g.State,
		stdout: s.Stdout, stderr: s.Stderr, w: w, r: r, done: make(chan struct{})}
	go d.read()
	return d, nil
}

// read sorts the run's stderr: explain lines (always written whole) are
// kept, and shown with --explain; anything else is passed on as it comes,
// a partial line too (a prompt, a progress bar redrawn with \r).
func (d *diagramRecorder) read() {
	defer close(d.done)
	buf := make([]byte, 64*1024)
	var line []byte  // the start of an explain line not yet ended
	passing := false // in the middle of a line passed on
	for {
		n, err := d.r.Read(buf)
		for data := buf[:n]; len(data) > 0; {
			chunk, ended := data, false
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				chunk, ended = data[:i+1], true
			}
			data = data[len(chunk):]
			if passing || len(line) == 0 && chunk[0] != '[' {
				d.stderr.Write(chunk)
				passing = !ended
				continue
			}
			if line = append(line, chunk...); ended {
				d.keep(string(line[:len(line)-1]))
				line = line[:0]
			}
		}
		if err != nil {
			if len(line) > 0 {
				d.keep(string(line))
			}
			return
		}
	}
}

// keep records one line that starts like an explain line.
func (d *diagramRecorder) keep(line string) {
	l, ok := explain.Parse(line)
	if ok {
		d.lines = append(d.lines, l)
	}
	if !ok || d.echo {
		fmt.Fprintln(d.stderr, line)
	}
}

// finish waits for the last lines and writes the diagram ("-": stdout).
func (d *diagramRecorder) finish() error {
	d.w.Close()
	select {
	case <-d.done:
	case <-time.After(5 * time.Second): // a process still holds the pipe
	}
	d.r.Close()
	var b strings.Builder
	d.render(&b)
	if d.path == "-" {
		_, err := io.WriteString(d.stdout, b.String())
		return err
	}
	if err := os.WriteFile(d.path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("--diagram: %w", err)
	}
	return nil
}

// Where a participant stands, left to right: the order of the pipeline.
var participantOrder = []string{"ctr-run", "supervisor", "img-pull", "fs-layer", "cg-limit", "net-bridge", "ns-enter", "container", "kernel"}

var seedID = regexp.MustCompile(`"ctrkit\.id":"([0-9a-f]+)"`)

// A phase of the run: its frame's label, the processes it started and
// the explain lines of each participant in it.
type phase struct {
	label   string
	starts  []start
	steps   map[string][]explain.Line
	pipe    []string // create: the stages, in pipe order
	endNote string
}

type start struct{ from, to, text string }

// phases splits the run at ctr-run's own lines: the pipeline (create),
// ns-enter (start), the undo commands (--rm).
func (d *diagramRecorder) phases() ([]*phase, *strings.Replacer) {
	var ps []*phase
	var cur *phase
	id := ""
	open := func(label string) *phase {
		cur = &phase{label: label, steps: map[string][]explain.Line{}}
		ps = append(ps, cur)
		return cur
	}
	cloned := false
	for _, l := range d.lines {
		if l.Tool == "ctr-run" {
			switch {
			case strings.HasPrefix(l.Note, "pipe(); fork(); execve()"):
				if m := seedID.FindStringSubmatch(l.Note); m != nil {
					id = m[1]
				}
				p := open("create: the pipeline, every stage a process, the spec passed on the pipe")
				_, line, _ := strings.Cut(l.Note, ": ")
				for _, st := range strings.Split(line, " | ")[1:] {
					name, _, _ := strings.Cut(st, " ")
					p.pipe = append(p.pipe, name)
					p.starts = append(p.starts, start{"ctr-run", name, "fork(); execve(): " + strings.Split(st, " > ")[0]})
				}
			case strings.HasPrefix(l.Note, "fork(); execve(") && strings.Contains(l.Note, "ns-enter"):
				from := "ctr-run"
				if d.detached {
					from = "supervisor"
				}
				p := open("start: ns-enter makes the namespaces and becomes the container")
				if d.detached {
					p.starts = append(p.starts, start{"ctr-run", "supervisor", "fork(); setsid(); execve(): ctr-run supervise ID"})
				}
				p.starts = append(p.starts, start{from, "ns-enter", "fork(); execve(): ns-enter --spec STATE/ID/config.json …"})
				cloned = false
			case strings.HasPrefix(l.Kernel, "fork(); execve("):
				if cur == nil || !strings.HasPrefix(cur.label, "remove") {
					open("remove (--rm): each stage undoes what it recorded")
				}
				name, _, _ := strings.Cut(l.Shell, " ")
				cur.starts = append(cur.starts, start{"ctr-run", name, "fork(); execve(): " + l.Shell})
			}
			continue
		}
		if cur == nil {
			open("")
		}
		who := l.Tool
		if who == "ns-enter" && cloned {
			who = "container"
		}
		switch {
		case l.Content:
		case l.Note != "":
			if i := strings.Index(l.Note, " ended with status "); i >= 0 && who == "container" {
				cur.endNote = "the command ended with status " + l.Note[i+len(" ended with status "):]
			}
		default:
			cur.steps[who] = append(cur.steps[who], l)
			if who == "ns-enter" && l.Call() == "clone" {
				cloned = true
			}
		}
	}
	var pairs []string
	if id != "" {
		pairs = append(pairs, id, "ID")
	}
	pairs = append(pairs, d.state+"/", "STATE/", d.root+"/", "ROOT/", filepath.Dir(self()), "BIN")
	return ps, strings.NewReplacer(pairs...)
}

// render draws the run: who started whom, and the kernel calls each made.
func (d *diagramRecorder) render(w io.Writer) {
	ps, short := d.phases()
	seen := map[string]bool{"ctr-run": true, "kernel": true}
	for _, p := range ps {
		for who := range p.steps {
			seen[who] = true
		}
		for _, s := range p.starts {
			seen[s.to] = true
		}
	}
	order := slices.Clone(participantOrder)
	var others []string
	for who := range seen {
		if !slices.Contains(order, who) {
			others = append(others, who)
		}
	}
	slices.Sort(others)
	order = slices.Insert(order, len(order)-1, others...)
	var s mermaid.Sequence
	for _, who := range order {
		if seen[who] {
			label := who
			if who == "container" {
				label = "container (ns-enter's child, then the command)"
			}
			s.Participant(who, label)
		}
	}
	for _, p := range ps {
		if p.label != "" {
			s.Frame(p.label)
		}
		for _, st := range p.starts {
			s.Message(st.from, st.to, "-)", short.Replace(st.text))
		}
		for _, who := range order {
			for _, g := range groupSteps(p.steps[who]) {
				if who == "ns-enter" && g.calls[0] == "clone" {
					s.Message(who, "container", "-)", short.Replace(g.first))
					continue
				}
				s.Message(who, "kernel", "->>", g.label(short))
			}
			if i := slices.Index(p.pipe, who); i >= 0 {
				if i+1 < len(p.pipe) {
					s.Message(who, p.pipe[i+1], "-->>", "the spec, on the pipe")
				} else {
					s.Message(who, "ctr-run", "-->>", "the spec: STATE/ID/config.json")
				}
			}
		}
		if p.endNote != "" {
			s.Note(p.endNote, "container")
		}
		if p.label != "" {
			s.End()
		}
	}
	s.WriteTo(w)
}

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

var quoted = regexp.MustCompile(`"([^"]*/[^"]*)"`)

// firstPath is the first quoted argument holding a path, or "".
func firstPath(kernel string) string {
	if m := quoted.FindStringSubmatch(kernel); m != nil {
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
