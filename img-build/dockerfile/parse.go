// Package dockerfile reads a Dockerfile into instructions, and expands
// $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} the way Docker does.
//
// A Dockerfile is a list of lines. Before anything is read:
//
//   - parser directives, "# escape=`" or "# syntax=…", may open the file
//     (only there: the first line that is not a directive ends them);
//   - a line ending in the escape character (\ by default) continues on the
//     next; comment lines and empty lines inside a continuation are skipped;
//   - a line whose first non-blank character is # is a comment.
//
// Each logical line is then INSTRUCTION [--flag=value…] ARGUMENTS, the
// instruction case-insensitive. RUN, CMD, ENTRYPOINT, SHELL, COPY, ADD and
// VOLUME accept the exec (JSON array) form, ["/bin/sh", "-c", "echo hi"].
package dockerfile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Instruction is one logical line of a Dockerfile.
type Instruction struct {
	Line   int               // the line it starts on, 1-based
	Cmd    string            // the instruction, upper case: RUN, COPY, …
	Flags  map[string]string // --from=builder → {"from": "builder"}
	Args   string            // the rest of the line, continuations joined
	JSON   []string          // the exec form's words, when IsJSON
	IsJSON bool              // Args is a JSON array of strings (exec form)
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

// needsArgs: every instruction needs arguments, except none.
var known = map[string]bool{
	"FROM": true, "RUN": true, "COPY": true, "ADD": true, "ENV": true, "ARG": true,
	"WORKDIR": true, "USER": true, "LABEL": true, "EXPOSE": true, "CMD": true,
	"ENTRYPOINT": true, "VOLUME": true, "SHELL": true, "STOPSIGNAL": true,
	"HEALTHCHECK": true, "ONBUILD": true, "MAINTAINER": true,
}

var jsonForm = map[string]bool{"RUN": true, "CMD": true, "ENTRYPOINT": true, "SHELL": true, "COPY": true, "ADD": true, "VOLUME": true}

var directiveRE = regexp.MustCompile(`^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`)

// Parse reads a Dockerfile; file names it in errors.
func Parse(r io.Reader, file string) (*Dockerfile, error) {
	df := &Dockerfile{File: file, Escape: '\\'}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var lines []string
	for sc.Scan() {
		lines = append(lines, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	i := 0
	for ; i < len(lines); i++ {
		m := directiveRE.FindStringSubmatch(lines[i])
		if m == nil {
			break
		}
		switch strings.ToLower(m[1]) {
		case "escape":
			if m[2] != "\\" && m[2] != "`" {
				return nil, &Error{file, i + 1, fmt.Sprintf("escape directive %q: the escape character must be \\ or `", m[2])}
			}
			df.Escape = rune(m[2][0])
		case "syntax", "check":
			// BuildKit front-end selection and lint settings: nothing to do here.
		default:
			// Docker treats an unknown directive as a comment, and so do we.
		}
	}
	esc := string(df.Escape)
	for i < len(lines) {
		start := i
		line := strings.TrimSpace(lines[i])
		i++
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var logical strings.Builder
		for {
			trimmed := strings.TrimRight(line, " \t")
			if !strings.HasSuffix(trimmed, esc) {
				logical.WriteString(line)
				break
			}
			logical.WriteString(strings.TrimSuffix(trimmed, esc))
			// the next line that is neither empty nor a comment continues it
			for i < len(lines) {
				t := strings.TrimSpace(lines[i])
				if t == "" || strings.HasPrefix(t, "#") {
					i++
					continue
				}
				break
			}
			if i >= len(lines) {
				break
			}
			line = lines[i]
			i++
		}
		in, err := parseLine(strings.TrimSpace(logical.String()))
		if err != nil {
			return nil, &Error{file, start + 1, err.Error()}
		}
		in.Line = start + 1
		df.Instructions = append(df.Instructions, in)
	}
	if len(df.Instructions) == 0 {
		return nil, &Error{file, 1, "the Dockerfile has no instructions"}
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

func parseLine(s string) (Instruction, error) {
	word, rest, _ := strings.Cut(s, " ")
	if t, r, ok := strings.Cut(word, "\t"); ok {
		word, rest = t, r+" "+rest
	}
	in := Instruction{Cmd: strings.ToUpper(word)}
	if !known[in.Cmd] {
		return in, fmt.Errorf("unknown instruction %q (known: FROM RUN COPY ADD ENV ARG WORKDIR USER LABEL EXPOSE CMD ENTRYPOINT VOLUME SHELL STOPSIGNAL)", word)
	}
	rest = strings.TrimSpace(rest)
	for strings.HasPrefix(rest, "--") {
		f, r, _ := strings.Cut(rest, " ")
		name, val, ok := strings.Cut(strings.TrimPrefix(f, "--"), "=")
		if !ok {
			return in, fmt.Errorf("%s flag %q: want --%s=VALUE", in.Cmd, f, name)
		}
		allowed := false
		for _, a := range flagsAllowed[in.Cmd] {
			allowed = allowed || a == name
		}
		if !allowed {
			return in, fmt.Errorf("%s does not take the flag --%s", in.Cmd, name)
		}
		if in.Flags == nil {
			in.Flags = map[string]string{}
		}
		in.Flags[name] = val
		rest = strings.TrimSpace(r)
	}
	in.Args = rest
	if rest == "" {
		return in, fmt.Errorf("%s needs arguments", in.Cmd)
	}
	if jsonForm[in.Cmd] && strings.HasPrefix(rest, "[") {
		var words []string
		if err := json.Unmarshal([]byte(rest), &words); err == nil {
			in.JSON, in.IsJSON = words, true
		} else if in.Cmd == "SHELL" {
			return in, fmt.Errorf("SHELL needs a JSON array of strings, e.g. [\"/bin/sh\", \"-c\"]: %v", err)
		}
	} else if in.Cmd == "SHELL" {
		return in, fmt.Errorf("SHELL needs a JSON array of strings, e.g. [\"/bin/sh\", \"-c\"]")
	}
	return in, nil
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}
