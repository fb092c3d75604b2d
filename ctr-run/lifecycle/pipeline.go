package lifecycle

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

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
// Each stage's stderr (progress, --explain) goes to stderr; the first
// stage that fails is named in the error.
func (p Pipeline) Run(env []string, stderr io.Writer) ([]byte, error) {
	cmds := make([]*exec.Cmd, len(p.Stages))
	var in io.Reader = bytes.NewReader(p.Seed)
	var closers []io.Closer
	var out bytes.Buffer
	for i, s := range p.Stages {
		c := exec.Command(Bin(s.Command), s.Args...)
		c.Env, c.Stdin, c.Stderr = env, in, stderr
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
			return nil, fmt.Errorf("start %s: %w", p.Stages[i].Command, err)
		}
	}
	for _, w := range closers {
		w.Close() // the children hold their ends
	}
	var firstErr error
	for i, c := range cmds {
		err := c.Wait()
		Times.Add(stepName("  | ", append([]string{p.Stages[i].Command}, p.Stages[i].Args...)), start)
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s failed (%w): see its message above", p.Stages[i], err)
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out.Bytes(), nil
}
