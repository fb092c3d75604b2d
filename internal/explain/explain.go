// Package explain prints what a ctrkit command asks of the kernel.
//
// Every step is one line on stderr, in one greppable format:
//
//	[TOOL] KERNEL CALL  $ SHELL EQUIVALENT
//
// for example
//
//	[ns-enter] sethostname("box")  $ hostname box
//	[ns-enter] # the child is PID 1 of the new pid namespace
//
// so `grep '^\[ns-enter\]'` shows one command's steps and
// `sed -n 's/^\[[a-z-]*\] .*  \$ //p'` turns a transcript into a shell script
// a learner can replay with stock tools. Explain mode is off by default;
// --explain or CTRKIT_EXPLAIN=1 turns it on.
package explain

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// Log writes explain lines for one tool. A nil *Log is silent, so mechanism
// packages can call it unconditionally.
type Log struct {
	tool string
	mu   sync.Mutex
	w    io.Writer
}

// New returns a Log that writes to w, or nil (silent) when on is false.
func New(tool string, w io.Writer, on bool) *Log {
	if !on {
		return nil
	}
	return &Log{tool: tool, w: w}
}

// Enabled reports whether l prints anything.
func (l *Log) Enabled() bool { return l != nil }

// Step records one kernel call and the shell command that does the same.
// Either may be empty.
func (l *Log) Step(kernel, shell string) {
	if l == nil {
		return
	}
	line := "[" + l.tool + "] " + kernel
	if shell != "" {
		if kernel == "" {
			line = "[" + l.tool + "] $ " + shell
		} else {
			line += "  $ " + shell
		}
	}
	l.print(line)
}

// Note records a step that has no kernel call of its own, as a comment.
func (l *Log) Note(format string, args ...any) {
	if l == nil {
		return
	}
	l.print("[" + l.tool + "] # " + fmt.Sprintf(format, args...))
}

func (l *Log) print(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, strings.ReplaceAll(line, "\n", " "))
}

// Quote renders s as a shell word: bare when it is safe, single-quoted
// otherwise, so shell equivalents can be pasted as they are.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word and joins them with spaces.
func Join(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}
