package lifecycle

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/internal/sibling"
)

// A Stage is one ctrkit command of the run pipeline, with its arguments.
type Stage struct {
	Command string
	Args    []string
}

func (s Stage) String() string { return explain.Join(append([]string{s.Command}, s.Args...)) }

// Pipeline is the chain of stages that prepares a container, each reading
// the document the previous one wrote:
//
//	img-pull IMAGE | fs-layer mount | cg-limit LIMITS | net-bridge attach
//
// The first stage gets a seed document naming the container's id, so
// every stage records what it makes under STATE/ID.
type Pipeline struct {
	Seed   []byte
	Stages []Stage
}

// Shell renders the pipeline as a line a shell runs the same way.
func (p Pipeline) Shell(out string) string {
	parts := []string{"echo " + explain.Quote(strings.TrimSpace(string(p.Seed)))}
	for _, s := range p.Stages {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, " \\\n  | ") + " > " + explain.Quote(out)
}

// Bin finds a sibling command (see internal/sibling).
func Bin(name string) string { return sibling.Path(name) }

// Run executes the stages as processes joined by pipes, exactly as the
// shell line from Shell would, and returns the last stage's document.
// Each stage's stderr (progress, --explain) goes to stderr as it comes,
// but for the error messages ("NAME: error: …") of the stages after the
// first: when one stage fails, the ones after it fail too, for want of a
// document on stdin, and their messages would only bury the first. So the
// first stage's message is printed as it comes (img-pull keeps its
// terminal, and its progress bars), a later stage's message becomes the
// error when that stage failed first, and the others are dropped.
func (p Pipeline) Run(env []string, stderr io.Writer) ([]byte, error) {
	cmds := make([]*exec.Cmd, len(p.Stages))
	held := make([]*heldErrors, len(p.Stages))
	var mu sync.Mutex
	var copying sync.WaitGroup
	var in io.Reader = bytes.NewReader(p.Seed)
	var closers []io.Closer
	var out bytes.Buffer
	for i, s := range p.Stages {
		c := exec.Command(Bin(s.Command), s.Args...)
		held[i] = &heldErrors{leader: s.Command + ": error: "}
		c.Env, c.Stdin, c.Stderr = env, in, stderr
		if _, isFile := stderr.(*os.File); !isFile {
			// os/exec copies into a writer that is not a file from a
			// goroutine of its own: take the lock the other copiers take.
			c.Stderr = lockedWriter{&mu, stderr}
		}
		if i > 0 {
			er, ew, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			closers = append(closers, ew)
			copying.Add(1)
			go func() {
				defer copying.Done()
				defer er.Close()
				held[i].copy(er, stderr, &mu)
			}()
			c.Stderr = ew
		}
		if i == len(p.Stages)-1 {
			c.Stdout = &out
		} else {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			c.Stdout = w
			closers = append(closers, w)
			in = r
			defer r.Close()
		}
		cmds[i] = c
	}
	start := time.Now()
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			for _, started := range cmds[:i] {
				started.Process.Kill()
				started.Wait()
			}
			for _, w := range closers {
				w.Close()
			}
			return nil, fmt.Errorf("start %s: %w", p.Stages[i].Command, err)
		}
	}
	for _, w := range closers {
		w.Close() // the children hold their ends
	}
	var firstErr error
	failed := -1
	for i, c := range cmds {
		err := c.Wait()
		Times.Add(stepName("  | ", append([]string{p.Stages[i].Command}, p.Stages[i].Args...)), start)
		if err != nil && firstErr == nil {
			firstErr, failed = fmt.Errorf("%s failed (%w): see its message above", p.Stages[i], err), i
		}
	}
	copying.Wait()
	if failed >= 0 && len(held[failed].lines) > 0 {
		firstErr = &exitcode.Error{Code: 125, Err: fmt.Errorf("%s: %s", p.Stages[failed].Command, strings.Join(held[failed].lines, "\n"))}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out.Bytes(), nil
}

// heldErrors copies a stage's stderr line by line, but keeps back its
// error message: the line starting with leader and the indented lines that
// continue it (cli.Status's format).
type heldErrors struct {
	leader string
	lines  []string
}

func (h *heldErrors) copy(r io.Reader, w io.Writer, mu *sync.Mutex) {
	indent := strings.Repeat(" ", len(h.leader))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, h.leader):
			h.lines = append(h.lines, strings.TrimPrefix(line, h.leader))
			continue
		case len(h.lines) > 0 && strings.HasPrefix(line, indent):
			h.lines = append(h.lines, strings.TrimPrefix(line, indent))
			continue
		}
		mu.Lock()
		fmt.Fprintln(w, line)
		mu.Unlock()
	}
}

// lockedWriter writes to w holding mu, so lines from the stages do not mix.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
