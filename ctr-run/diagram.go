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
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
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

// Compiled on first use (as quoted, versioned): every ctr-run start would pay for them.
var seedID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"ctrkit\.id":"([0-9a-f]+)"`) })

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
// ns-enter (start), the removal (--rm: the held stages, or undo commands).
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
				if m := seedID().FindStringSubmatch(l.Note); m != nil {
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
				nsEnter := "fork(); execve(): ns-enter --spec STATE/ID/config.json …"
				if d.detached { // the supervisor reaps the container; ns-enter leaves once it runs
					p.starts = append(p.starts, start{"ctr-run", "supervisor", "fork(); setsid(); execve(): ctr-run-supervise ID"})
					nsEnter = "prctl(PR_SET_CHILD_SUBREAPER); fork(); execve(): ns-enter --detach --spec STATE/ID/config.json …"
				}
				p.starts = append(p.starts, start{from, "ns-enter", nsEnter})
				cloned = false
			case strings.HasPrefix(l.Kernel, "fork(); execve("):
				if cur == nil || !strings.HasPrefix(cur.label, "remove") {
					open("remove (--rm): each stage undoes what it recorded")
				}
				name, _, _ := strings.Cut(l.Shell, " ")
				cur.starts = append(cur.starts, start{"ctr-run", name, "fork(); execve(): " + l.Shell})
			case strings.HasSuffix(l.Kernel, `'s fd 3, "rm"); close`): // a stage held what it made (internal/hold)
				if cur == nil || !strings.HasPrefix(cur.label, "remove") {
					open("remove (--rm): each stage, held since it made its part, undoes it")
				}
				name, _, _ := strings.Cut(l.Shell, " ")
				cur.starts = append(cur.starts, start{"ctr-run", name, `write(fd 3, "rm"): ` + l.Shell})
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
