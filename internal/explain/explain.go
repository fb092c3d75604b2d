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
// so `grep '^\[ns-enter\]'` shows one command's steps. A file's contents
// follow its step as a heredoc, each line led by "> " as a shell's second
// prompt shows it:
//
//	[net-bridge] write("/run/ctrkit/ID/hostname")  $ cat > /run/ctrkit/ID/hostname <<'EOF'
//	[net-bridge] > 5f0e2b7c1a93
//	[net-bridge] > EOF
//
// The shell halves are a script: typed into a root shell on Debian 12 or
// Ubuntu 22.04, in order, with stock tools (util-linux, iproute2,
// nftables, coreutils), they do what the command did. Where no stock tool
// can, the shell half is a comment saying so. One sed turns a transcript
// into that script (scripts/replay.sh does, and bats/21-replay.bats replays
// a whole ctr-run with it):
//
//	sed -n -e 's/^\[[a-z-]*\] > //p' -e 's/^\[[a-z-]*\] \(.*  \)\{0,1\}\$ //p'
//
// Explain mode is off by default; --explain or CTRKIT_EXPLAIN=1 turns it
// on.
package explain

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// FDEnv names a descriptor explain lines go to instead of stderr, for a
// caller that reads them elsewhere: ctr-run -d, whose container's stderr is
// its log, passes its own terminal's lines through it to the supervisor
// and ns-enter, so the steps show where `ctr-run -d --explain` was typed.
const FDEnv = "CTRKIT_EXPLAIN_FD"

// FD returns the descriptor FDEnv names, or nil, and takes the variable out
// of the environment so no later child inherits a number that means
// nothing to it.
func FD() *os.File {
	v := os.Getenv(FDEnv)
	os.Unsetenv(FDEnv)
	n, err := strconv.Atoi(v)
	if err != nil || n < 3 {
		return nil
	}
	return os.NewFile(uintptr(n), "explain")
}

// WithoutFD is env without FDEnv.
func WithoutFD(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(e string) bool { return strings.HasPrefix(e, FDEnv+"=") })
}

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

// File records a write of content to path: the step, with a heredoc
// (cat > PATH <<'EOF') as its shell half, then the content line by line.
func (l *Log) File(kernel, path string, content []byte) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%s] %s  $ cat > %s <<'EOF'\n", l.tool, oneLine(kernel), Quote(path))
	text := strings.TrimSuffix(string(content), "\n")
	if text != "" || len(content) > 0 {
		for _, line := range strings.Split(text, "\n") {
			fmt.Fprintf(l.w, "[%s] > %s\n", l.tool, line)
		}
	}
	fmt.Fprintf(l.w, "[%s] > EOF\n", l.tool)
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
	fmt.Fprintln(l.w, oneLine(line))
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

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
