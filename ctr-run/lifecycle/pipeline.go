package lifecycle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/internal/hold"
	"ctrkit/internal/sibling"
)

// A Stage is one ctrkit command of the run pipeline, with its arguments.
type Stage struct {
	Command string
	Args    []string
	// Rm, when set, is the command that undoes what the stage made: the
	// stage can then stay with it (--hold FD, internal/hold) and do the
	// same on "rm", when the pipeline runs holding.
	Rm []string
	// Sequential: the stage works in one sequence, so it runs with one P
	// (sibling.OneP); img-pull and fs-layer may download and unpack in
	// parallel.
	Sequential bool
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
	doc, _, err := p.run(env, stderr, false)
	return doc, err
}

// RunHolding is Run, but the stages that can hold (Stage.Rm) get
// --hold and stay, each with what it made, once the document is out:
// Held.Release then removes it all without a process start per stage
// (ctr-run --rm). The shell line stays Shell's; a stage's rm command is
// the shell's way to what Release does.
func (p Pipeline) RunHolding(env []string, stderr io.Writer) ([]byte, *Held, error) {
	return p.run(env, stderr, true)
}

func (p Pipeline) run(env []string, stderr io.Writer, holding bool) ([]byte, *Held, error) {
	cmds := make([]*exec.Cmd, len(p.Stages))
	held := make([]*heldErrors, len(p.Stages))
	holds := make([]*hold.Caller, len(p.Stages)) // the stages' --hold 3, for those that hold
	var mu sync.Mutex
	copying := new(sync.WaitGroup)
	var in io.Reader = bytes.NewReader(p.Seed)
	var closers []io.Closer
	started := func() { // once the stages have started
		for _, h := range holds {
			if h != nil {
				h.Started()
			}
		}
	}
	closeHolds := func() { // end of file: a stage that holds leaves what it made
		for _, h := range holds {
			if h != nil {
				h.Leave()
			}
		}
	}
	abandon := func() { // none has started, or some failed to
		started()
		closeHolds()
	}
	for i, s := range p.Stages {
		c := exec.Command(Bin(s.Command), s.Args...)
		held[i] = &heldErrors{leader: s.Command + ": error: ", marked: make(chan struct{})}
		c.Env, c.Stdin, c.Stderr = env, in, stderr
		if s.Sequential {
			c.Env = sibling.OneP(env)
		}
		if holding && s.Rm != nil && i > 0 {
			// Its stderr is copied (below): it marks the end of the lines
			// it writes before its document (internal/hold), so they come
			// before ours. The first stage's goes straight to stderr.
			c.Env = append(slices.Clip(c.Env), hold.MarkEnv+"=1")
		}
		if _, isFile := stderr.(*os.File); !isFile {
			// os/exec copies into a writer that is not a file from a
			// goroutine of its own: take the lock the other copiers take.
			c.Stderr = lockedWriter{&mu, stderr}
		}
		if i > 0 {
			er, ew, err := os.Pipe()
			if err != nil {
				abandon()
				return nil, nil, err
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
		r, w, err := os.Pipe()
		if err != nil {
			abandon()
			return nil, nil, err
		}
		c.Stdout = w
		closers = append(closers, w)
		in = r
		defer r.Close()
		if holding && s.Rm != nil {
			if holds[i], err = hold.Give(c); err != nil {
				abandon()
				return nil, nil, err
			}
		}
		cmds[i] = c
	}
	start := time.Now()
	for i, c := range cmds {
		if err := c.Start(); err != nil {
			abandon()
			for _, other := range cmds[:i] {
				other.Process.Kill()
				other.Wait()
			}
			for _, w := range closers {
				w.Close()
			}
			return nil, nil, fmt.Errorf("start %s: %w", p.Stages[i].Command, err)
		}
	}
	started()
	for _, w := range closers {
		w.Close() // the children hold their ends
	}
	exited := make([]chan error, len(cmds))
	step := func(i int) string {
		return stepName("  | ", append([]string{p.Stages[i].Command}, p.Stages[i].Args...))
	}
	ended := make([]time.Time, len(cmds)) // each stage's exit, for --timings
	for i, c := range cmds {
		exited[i] = make(chan error, 1)
		go func() {
			err := c.Wait()
			ended[i] = time.Now()
			exited[i] <- err
		}()
	}
	errs := make([]error, len(cmds))
	waited := make([]bool, len(cmds))
	wait := func(i int) error { // received once; timed from fork to exit
		if !waited[i] {
			errs[i], waited[i] = <-exited[i], true
			Times.Span(step(i), start, ended[i])
		}
		return errs[i]
	}
	// The last stage's document, to its end: every stage before it has
	// closed its stdout by then, by exiting or, holding, after its document.
	doc, _ := io.ReadAll(in.(*os.File))
	if holding && json.Valid(doc) {
		// Every stage wrote its document after its work, so a whole one
		// from the last means all succeeded; those that hold stay.
		ok := true
		for i := range cmds {
			if holds[i] == nil && wait(i) != nil {
				ok = false
			}
		}
		if ok {
			// Every line a holding stage wrote before its document is out
			// once its mark has come (or its stderr ended).
			for i := range cmds {
				if holds[i] != nil && i > 0 {
					<-held[i].marked
				}
			}
			h := &Held{copying: copying}
			for i := range cmds {
				if holds[i] != nil {
					Times.Add(step(i), start) // to the document's end: it stays
					h.stages = append(h.stages, &heldStage{stage: p.Stages[i], hold: holds[i], exited: exited[i]})
				}
			}
			return doc, h, nil
		}
	}
	closeHolds() // for Create's clean-up
	var firstErr error
	failed := -1
	for i := range cmds {
		err := wait(i)
		if err != nil && firstErr == nil {
			firstErr, failed = fmt.Errorf("%s failed (%w): see its message above", p.Stages[i], err), i
		}
	}
	copying.Wait()
	if failed >= 0 && len(held[failed].lines) > 0 {
		firstErr = &exitcode.Error{Code: 125, Err: fmt.Errorf("%s: %s", p.Stages[failed].Command, strings.Join(held[failed].lines, "\n"))}
	}
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return doc, nil, nil
}

// Held are the stages of a pipeline that stay with what they made.
type Held struct {
	stages  []*heldStage
	copying *sync.WaitGroup // their stderr copiers
}

type heldStage struct {
	stage  Stage
	hold   *hold.Caller
	exited chan error
}

// Release says "rm" to every held stage at once, waits until each has
// removed what it made and ended, and returns the rm commands so done. A
// stage that failed is not among them: its rm command (Container.Remove)
// tries again.
func (h *Held) Release(log *explain.Log) [][]string {
	for _, s := range h.stages {
		log.Step(fmt.Sprintf("write(%s's fd 3, \"rm\"); close", s.stage.Command), explain.Join(s.stage.Rm))
		s.hold.Rm()
	}
	var done [][]string
	for _, s := range h.stages {
		if err := <-s.exited; err == nil {
			done = append(done, s.stage.Rm)
		}
	}
	h.copying.Wait()
	return done
}

// heldErrors copies a stage's stderr line by line, but keeps back its
// error message: the line starting with leader and the indented lines that
// continue it (cli.Status's format). A holding stage's mark (hold.Mark) is
// not copied: it closes marked, as the end of its stderr does.
type heldErrors struct {
	leader string
	lines  []string
	marked chan struct{}
	once   sync.Once
}

func (h *heldErrors) copy(r io.Reader, w io.Writer, mu *sync.Mutex) {
	mark := func() { h.once.Do(func() { close(h.marked) }) }
	defer mark()
	indent := strings.Repeat(" ", len(h.leader))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == hold.Mark:
			mark()
			continue
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
