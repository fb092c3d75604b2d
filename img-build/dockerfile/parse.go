// Package dockerfile reads a Dockerfile into instructions, and expands
// $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} the way Docker does.
//
// A Dockerfile is a list of lines. Before anything is read:
//
//   - a UTF-8 byte order mark at the very start is dropped (editors on
//     Windows write one);
//   - parser directives, "# escape=`", "# syntax=…" or "# check=…", may open
//     the file (only there: the first line that is not a directive ends
//     them);
//   - a line ending in the escape character (\ by default) continues on the
//     next; comment lines and empty lines inside a continuation are skipped;
//   - a line whose first non-blank character is # is a comment;
//   - RUN, COPY and ADD may carry here-documents: `RUN <<EOF` takes the
//     lines up to one that reads EOF as a script, `COPY <<EOF /x` as the
//     content of a file named EOF (<<-EOF strips leading tabs; a quoted
//     <<"EOF" keeps $VAR unexpanded in COPY's file).
//
// Each logical line is then INSTRUCTION [--flag=value…] ARGUMENTS, the
// instruction case-insensitive. RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD and
// VOLUME accept the exec (JSON array) form, ["/bin/sh", "-c", "echo hi"].
//
// Which parser, and why: the lines are split by BuildKit's own parser,
// github.com/moby/buildkit/frontend/dockerfile/parser, the one `docker
// build` runs. Reading a Dockerfile is not what img-build teaches (the
// layers, the cache and RUN in a container are), and the corner cases are
// many: here-documents, the byte order mark, the escape directive changing
// what continues a line, JSON that is not quite JSON. A hand-written reader
// rejected heredocs and the BOM; BuildKit's handles its whole test corpus
// by definition, and parse_test.go runs our conversion over that corpus
// (read from the module cache). The cost is one module: the parser package
// pulls in BuildKit's small shell-lexer and command packages, pkg/errors
// and, through its error stacks, protobuf's runtime (`go mod graph` shows
// the rest of BuildKit's requirements, which are never compiled in).
// What BuildKit's parser leaves to its callers, we do here: which
// instructions and flags exist, that only ARG comes before FROM, and the
// file:line of each error.
package dockerfile

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Instruction is one logical line of a Dockerfile.
type Instruction struct {
	Line   int               // the line it starts on, 1-based
	Cmd    string            // the instruction, upper case: RUN, COPY, …
	Flags  map[string]string // --from=builder → {"from": "builder"}
	Args   string            // the rest of the line, continuations joined
	JSON   []string          // the exec form's words, when IsJSON
	IsJSON bool              // Args is a JSON array of strings (exec form)
	// Heredocs are the here-documents of RUN, COPY and ADD, in order. A
	// RUN keeps its <<NAME words in Args (the shell reads them); for COPY
	// and ADD they are inline source files, and their words are taken out
	// of Args.
	Heredocs []Heredoc
}

// Heredoc is one here-document: the lines between <<NAME and NAME.
type Heredoc struct {
	Name    string // the word after <<, quotes removed
	Content string // the lines, each with its newline; tabs stripped for <<-
	Expand  bool   // the word was not quoted: $VAR in COPY's content is expanded
}

// String is the instruction as written (flags and arguments), for output
// and cache keys.
func (in Instruction) String() string {
	var b strings.Builder
	b.WriteString(in.Cmd)
	for _, k := range sortedKeys(in.Flags) {
		fmt.Fprintf(&b, " --%s=%s", k, in.Flags[k])
	}
	if in.Args != "" {
		b.WriteString(" " + in.Args)
	}
	return b.String()
}

// Dockerfile is a parsed file.
type Dockerfile struct {
	File         string
	Escape       rune
	Instructions []Instruction
}

// Error names the file and line where the Dockerfile is wrong.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// flagsAllowed lists, per instruction, the --flags it takes; an
// instruction missing here takes none.
var flagsAllowed = map[string][]string{
	"FROM": {"platform"},
	"RUN":  {"network"},
	"COPY": {"from", "chown", "chmod", "link"},
	"ADD":  {"chown", "chmod", "link"},
}

// known lists the instructions; every one needs arguments.
var known = map[string]bool{
	"FROM": true, "RUN": true, "COPY": true, "ADD": true, "ENV": true, "ARG": true,
	"WORKDIR": true, "USER": true, "LABEL": true, "EXPOSE": true, "CMD": true,
	"ENTRYPOINT": true, "VOLUME": true, "SHELL": true, "STOPSIGNAL": true,
	"HEALTHCHECK": true, "ONBUILD": true, "MAINTAINER": true,
}

// Parse reads a Dockerfile; file names it in errors.
func Parse(r io.Reader, file string) (*Dockerfile, error) {
	res, err := parser.Parse(r)
	if err != nil {
		return nil, locate(file, err)
	}
	df := &Dockerfile{File: file, Escape: res.EscapeToken}
	for _, n := range res.AST.Children {
		in, err := instruction(n, df.Escape)
		if err != nil {
			return nil, &Error{file, n.StartLine, err.Error()}
		}
		df.Instructions = append(df.Instructions, in)
	}
	for _, in := range df.Instructions {
		if in.Cmd == "FROM" {
			break
		}
		if in.Cmd != "ARG" {
			return nil, &Error{file, in.Line, fmt.Sprintf("%s before the first FROM: only ARG may come before FROM", in.Cmd)}
		}
	}
	return df, nil
}

// locate turns BuildKit's error into an *Error with our wording for the
// common ones. BuildKit counts a directive's line from 0 (it fails before
// counting the line) and an instruction's from 1.
func locate(file string, err error) error {
	line := 1
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "file with no instructions"):
		return &Error{file, 1, "the Dockerfile has no instructions"}
	case strings.Contains(msg, "escape token"):
		return &Error{file, line + 1, fmt.Sprintf("escape directive: the escape character must be \\ or ` (%v)", msg)}
	case strings.Contains(msg, "parser directive"):
		return &Error{file, line + 1, msg}
	}
	return &Error{file, max(line, 1), msg}
}

// instruction checks one node of BuildKit's tree and converts it.
func instruction(n *parser.Node, escape rune) (Instruction, error) {
	in := Instruction{Line: n.StartLine, Cmd: strings.ToUpper(n.Value)}
	if !known[in.Cmd] {
		return in, fmt.Errorf("unknown instruction %q (known: FROM RUN COPY ADD ENV ARG WORKDIR USER LABEL EXPOSE CMD ENTRYPOINT VOLUME SHELL STOPSIGNAL)", n.Value)
	}
	for _, f := range n.Flags {
		name, val, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if !ok {
			return in, fmt.Errorf("%s flag %q: want --%s=VALUE", in.Cmd, f, name)
		}
		if !slices.Contains(flagsAllowed[in.Cmd], name) {
			return in, fmt.Errorf("%s does not take the flag --%s", in.Cmd, name)
		}
		if in.Flags == nil {
			in.Flags = map[string]string{}
		}
		in.Flags[name] = val
	}
	in.Args = skipFlags(skipWord(strings.TrimSpace(n.Original)), escape)
	if in.Args == "" {
		return in, fmt.Errorf("%s needs arguments", in.Cmd)
	}
	if n.Attributes["json"] {
		in.IsJSON, in.JSON = true, []string{}
		for w := n.Next; w != nil; w = w.Next {
			in.JSON = append(in.JSON, w.Value)
		}
	}
	if in.Cmd == "SHELL" && !in.IsJSON {
		return in, fmt.Errorf("SHELL needs a JSON array of strings, e.g. [\"/bin/sh\", \"-c\"]")
	}
	for _, h := range n.Heredocs {
		content := h.Content
		if h.Chomp {
			content = parser.ChompHeredocContent(content)
		}
		in.Heredocs = append(in.Heredocs, Heredoc{Name: h.Name, Content: content, Expand: h.Expand})
	}
	if len(in.Heredocs) > 0 && (in.Cmd == "COPY" || in.Cmd == "ADD") {
		var rest []string
		for _, w := range strings.Fields(in.Args) {
			if parser.MustParseHeredoc(w) == nil {
				rest = append(rest, w)
			}
		}
		in.Args = strings.Join(rest, " ")
	}
	return in, nil
}

// skipWord drops the first word of s (the instruction) and the blanks
// after it.
func skipWord(s string) string {
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return ""
	}
	return strings.TrimLeftFunc(s[i:], unicode.IsSpace)
}

// skipFlags drops the leading --flag words of s, which BuildKit has
// already read into the node's Flags: the words starting with --, quotes
// and escapes inside them included, up to the first other word or a lone
// "--".
func skipFlags(s string, escape rune) string {
	for strings.HasPrefix(s, "--") {
		i, quote := 0, byte(0)
	scan:
		for ; i < len(s); i++ {
			switch c := s[i]; {
			case rune(c) == escape && i+1 < len(s):
				i++
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '\'' || c == '"':
				quote = c
			case c == ' ' || c == '\t':
				break scan
			}
		}
		word := s[:i]
		s = strings.TrimLeftFunc(s[i:], unicode.IsSpace)
		if word == "--" {
			break
		}
	}
	return strings.TrimSpace(s)
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
