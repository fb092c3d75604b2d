package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"ctrkit/img-pull/pull"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// newProgress shows one bar per blob on a terminal, and one line per blob
// when stderr is a file or a pipe (a log stays readable).
func newProgress(w io.Writer) pull.Progress {
	if terminal(w) {
		return &bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))}
	}
	return &lines{w: w}
}

type bars struct{ p *mpb.Progress }

func (b *bars) Blob(d v1.Descriptor, kind string, stored bool) pull.Bar {
	label := fmt.Sprintf("%-6s %s", kind, d.Digest.Hex[:12])
	if stored {
		bar := b.p.New(d.Size, mpb.NopStyle(), mpb.PrependDecorators(decor.Name(label+"  already stored")))
		bar.SetTotal(d.Size, true)
		return nopBar{}
	}
	bar := b.p.AddBar(d.Size,
		mpb.PrependDecorators(decor.Name(label+"  ")),
		mpb.AppendDecorators(decor.Counters(decor.SizeB1000(0), "% .1f / % .1f"),
			decor.OnComplete(decor.Name(""), "  verified")))
	return &mpbBar{bar: bar, p: b.p, label: label}
}

func (b *bars) Wait() { b.p.Wait() }

type mpbBar struct {
	bar   *mpb.Bar
	p     *mpb.Progress
	label string
}

// Retry prints the failed attempt above the bars and rewinds the bar to
// the bytes kept.
func (m *mpbBar) Retry(n int, err error, wait time.Duration, offset int64) {
	fmt.Fprintf(m.p, "%s  attempt %d failed: %v; retrying in %s\n", m.label, n, err, wait.Round(time.Millisecond))
	m.bar.SetCurrent(offset)
}

// Resume moves the bar to the bytes a resumed download starts from.
func (m *mpbBar) Resume(offset int64) { m.bar.SetCurrent(offset) }

func (m *mpbBar) Reader(r io.Reader) io.Reader {
	rc, err := m.bar.ProxyReader(r)
	if err != nil {
		return r
	}
	return rc
}
func (m *mpbBar) Done(err error) {
	if err != nil || !m.bar.Completed() {
		m.bar.Abort(false)
	}
}

type nopBar struct{}

func (nopBar) Reader(r io.Reader) io.Reader { return r }
func (nopBar) Done(error)                   {}

// lines prints "layer sha256:… 12.3MB downloaded" when each blob is done.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) Blob(d v1.Descriptor, kind string, stored bool) pull.Bar {
	if stored {
		l.print("img-pull: %-6s %s %s already stored\n", kind, d.Digest, human(d.Size))
		return nopBar{}
	}
	return lineBar{l: l, d: d, kind: kind}
}

func (l *lines) print(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

type lineBar struct {
	l    *lines
	d    v1.Descriptor
	kind string
}

func (b lineBar) Reader(r io.Reader) io.Reader { return r }
func (b lineBar) Retry(n int, err error, wait time.Duration, offset int64) {
	b.l.print("img-pull: %-6s %s attempt %d failed: %v; retrying in %s (%s kept)\n", b.kind, b.d.Digest, n, err, wait.Round(time.Millisecond), human(offset))
}
func (b lineBar) Done(err error) {
	if err == nil {
		b.l.print("img-pull: %-6s %s %s downloaded, verified\n", b.kind, b.d.Digest, human(b.d.Size))
	}
}
