// Package mermaid writes the Mermaid diagrams ctrkit draws from the live
// system: the sequence of kernel calls a run made (ctr-run --diagram), the
// layer stack of an image (fs-layer tree --mermaid) and the network
// topology (net-bridge show --format mermaid).
//
// Mermaid (https://mermaid.js.org) is text that GitHub, GitLab and most
// Markdown viewers render as a picture, so a diagram can sit in a chapter
// as a ```mermaid block, be regenerated from a real run, and be compared
// with diff. This package is hand-written rather than a library: the two
// diagram kinds ctrkit needs are a few lines of text each, and what matters
// is that the output is deterministic (the same run gives the same bytes)
// and that labels can hold any text: Mermaid reads `;`, `#`, `"`, `<` and
// `>` as syntax, so Label turns them into its entity codes (#59; …).
package mermaid

import (
	"fmt"
	"io"
	"strings"
)

// Label makes s safe as the quoted text of a node or subgraph: one line,
// with Mermaid's syntax characters (# ; " < >) as entity codes.
func Label(s string) string { return escape(s, `#;"<>`) }

// Text makes s safe as the text of a message or note, which runs to the end
// of its line: # and ; would end it, < and > could start HTML.
func Text(s string) string { return escape(s, "#;<>") }

func escape(s, special string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			b.WriteByte(' ')
		case strings.ContainsRune(special, r):
			fmt.Fprintf(&b, "#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ID makes s usable as a node or participant id: letters, digits and _.
func ID(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// Sequence is a sequence diagram: participants in the order they are
// declared, then messages, notes and boxes in order.
type Sequence struct {
	participants []string
	known        map[string]bool
	body
}

// Participant declares id, shown as label, unless it is already declared.
func (s *Sequence) Participant(id, label string) {
	if s.known == nil {
		s.known = map[string]bool{}
	}
	if s.known[id] {
		return
	}
	s.known[id] = true
	line := "participant " + ID(id)
	if label == "" {
		label = id
	}
	if label != ID(id) {
		line += " as " + Text(label)
	}
	s.participants = append(s.participants, line)
}

// Message draws an arrow from one participant to another: a solid line
// for a call (->>), a dotted one for a reply (-->>), an open arrow for
// something started that runs on its own (-)).
func (s *Sequence) Message(from, to, arrow, text string) {
	s.Participant(from, "")
	s.Participant(to, "")
	s.add(fmt.Sprintf("%s%s%s: %s", ID(from), arrow, ID(to), Text(text)))
}

// Note puts a note over one participant, or over the span of two.
func (s *Sequence) Note(text string, over ...string) {
	ids := make([]string, len(over))
	for i, o := range over {
		s.Participant(o, "")
		ids[i] = ID(o)
	}
	s.add(fmt.Sprintf("Note over %s: %s", strings.Join(ids, ","), Text(text)))
}

// Frame opens a labelled frame around the lines that follow (Mermaid's
// "opt" block); End closes it.
func (s *Sequence) Frame(label string) { s.open("opt " + Text(label)) }

// WriteTo writes the diagram as Mermaid text.
func (s *Sequence) WriteTo(w io.Writer) (int64, error) {
	s.closeAll()
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	for _, p := range s.participants {
		b.WriteString("  " + p + "\n")
	}
	for _, l := range s.lines {
		b.WriteString(l + "\n")
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

// Flowchart is a flowchart: nodes, edges and subgraphs, in the order they
// were added.
type Flowchart struct {
	Dir string // TB, BT, LR or RL
	body
}

// Shapes of a node, as Mermaid draws them.
const (
	Box     = `["%s"]`   // a rectangle
	Round   = `("%s")`   // rounded corners
	Stadium = `(["%s"])` // a pill
	Cyl     = `[("%s")]` // a cylinder: a store
	Hex     = `{{"%s"}}` // a hexagon: a rule
)

// Node adds a node with a label and a shape (Box, Round, …).
func (f *Flowchart) Node(id, shape, label string) {
	f.add(ID(id) + fmt.Sprintf(shape, Label(label)))
}

// Edge joins two nodes with an arrow as Mermaid writes it ("-->", "---"
// for a plain line, "-.->" dotted, "<-->" both ways) and an optional label.
func (f *Flowchart) Edge(from, arrow, to, label string) {
	if label != "" {
		arrow += `|"` + Label(label) + `"|`
	}
	f.add(ID(from) + " " + arrow + " " + ID(to))
}

// Subgraph opens a group of nodes drawn in one frame; End closes it.
func (f *Flowchart) Subgraph(id, label string) {
	f.open(fmt.Sprintf("subgraph %s[\"%s\"]", ID(id), Label(label)))
}

// WriteTo writes the diagram as Mermaid text.
func (f *Flowchart) WriteTo(w io.Writer) (int64, error) {
	f.closeAll()
	dir := f.Dir
	if dir == "" {
		dir = "TB"
	}
	n, err := io.WriteString(w, "flowchart "+dir+"\n"+strings.Join(f.lines, "\n")+"\n")
	return int64(n), err
}

// body is what both kinds of diagram hold: their lines, indented by the
// frames (Frame, Subgraph) open around them.
type body struct {
	lines []string
	depth int
}

func (b *body) add(line string) {
	b.lines = append(b.lines, strings.Repeat("  ", b.depth+1)+line)
}

// open adds a line that opens a frame: the lines after it are inside.
func (b *body) open(line string) {
	b.add(line)
	b.depth++
}

// End closes the innermost frame (a Sequence's Frame, a Flowchart's
// Subgraph).
func (b *body) End() {
	if b.depth == 0 {
		return
	}
	b.depth--
	b.add("end")
}

func (b *body) closeAll() {
	for b.depth > 0 {
		b.End()
	}
}
