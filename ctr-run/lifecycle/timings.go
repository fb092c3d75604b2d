package lifecycle

// --timings: where the milliseconds of a run go. The run is a pipeline of
// processes (see Pipeline), then ns-enter, then, for --rm, the removal by
// the stages that held what they made (or an rm command per undo step);
// each is timed from ctr-run's side, from fork to exit, which is what a
// user waits for: the process start (exec, Go runtime, reading the
// document) plus the stage's own work. A stage that holds stays after its
// document: it is timed to the end of the pipeline's document.

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Times records the steps of this run when --timings asked for them; nil
// (the default) records nothing. One ctr-run process runs one container,
// so one recorder per process is enough.
var Times *Timings

// Timings is a list of steps, each with its start and end.
type Timings struct {
	mu    sync.Mutex
	start time.Time
	steps []timing
}

type timing struct {
	name     string
	from, to time.Time
}

// StartTimings turns the recorder on; times are counted from now.
func StartTimings() { Times = &Timings{start: time.Now()} }

// Add records a step that ran from from to now.
func (t *Timings) Add(name string, from time.Time) { t.Span(name, from, time.Now()) }

// Span records a step that ran from from to to.
func (t *Timings) Span(name string, from, to time.Time) {
	if t != nil {
		t.mu.Lock()
		t.steps = append(t.steps, timing{name, from, to})
		t.mu.Unlock()
	}
}

// Print writes the table: each step's start, end and length in
// milliseconds, and the total.
func (t *Timings) Print(w io.Writer) {
	if t == nil {
		return
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "step\tfrom ms\tto ms\tms\t")
	for _, s := range t.steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", s.name, ms(s.from.Sub(t.start)), ms(s.to.Sub(t.start)), ms(s.to.Sub(s.from)))
	}
	fmt.Fprintf(tw, "total (from ctr-run's main)\t\t\t%s\t\n", ms(time.Since(t.start)))
	tw.Flush()
}

func stepName(prefix string, args []string) string {
	s := prefix + strings.Join(args, " ")
	if len(s) > 60 {
		s = s[:59] + "…"
	}
	return s
}
