package lifecycle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"
	"ctrkit/internal/hold"
	"ctrkit/internal/proc"
)

// sh is a pipeline stage that runs script with sh (found on PATH, as
// sibling commands are when they are not next to the executable).
func sh(script string) Stage { return Stage{Command: "sh", Args: []string{"-c", script}} }

func TestPipelineRun(t *testing.T) {
	StartTimings()
	defer func() { Times = nil }()
	p := Pipeline{Seed: []byte(`{"ociVersion":"1.0.2"}` + "\n"), Stages: []Stage{
		sh(`sed 's/1.0.2/1.2.0/'`),
		sh(`echo progress >&2; tr -d ' '`),
		sh(`cat; echo '"more"'`),
	}}
	// stderr is a file, as ctr-run's own is: the first stage writes to it
	// directly, the others through the copiers that hold back errors.
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	readStderr := func() string {
		data, _ := os.ReadFile(stderr.Name())
		stderr.Truncate(0)
		stderr.Seek(0, 0)
		return string(data)
	}
	out, err := p.Run(nil, stderr)
	if err != nil || string(out) != "{\"ociVersion\":\"1.2.0\"}\n\"more\"\n" {
		t.Errorf("Run() = %q, %v", out, err)
	}
	if got := readStderr(); got != "progress\n" {
		t.Errorf("the stages' stderr = %q, want their progress line", got)
	}
	if got := p.Shell("/s/config.json"); !strings.HasPrefix(got, `echo '{"ociVersion":"1.0.2"}'`) || !strings.Contains(got, " \\\n  | sh -c ") || !strings.HasSuffix(got, " > /s/config.json") {
		t.Errorf("Shell() = %q", got)
	}

	// The second stage fails: its held message is the error (code 125),
	// the third stage's complaint about an empty stdin is dropped.
	p.Stages = []Stage{
		sh(`cat`),
		sh(`cat >/dev/null; echo 'sh: error: no such image "x"' >&2; echo '           (pull it first)' >&2; exit 3`),
		sh(`cat >/dev/null; echo 'sh: error: empty document' >&2; exit 1`),
	}
	_, err = p.Run(nil, stderr)
	var ee *exitcode.Error
	if !errors.As(err, &ee) || ee.Code != 125 || err.Error() != "sh: no such image \"x\"\n(pull it first)" {
		t.Errorf("Run(failing stage) = %v, want the failing stage's own message, code 125", err)
	}
	if got := readStderr(); strings.Contains(got, "error") {
		t.Errorf("a held message was printed: %q", got)
	}
	if _, err := (Pipeline{Stages: []Stage{{Command: "no-such-command-ck"}}}).Run(nil, stderr); err == nil || !strings.Contains(err.Error(), "start no-such-command-ck") {
		t.Errorf("Run(missing command) = %v", err)
	}

	var tab bytes.Buffer
	Times.Print(&tab)
	if lines := strings.Split(strings.TrimSpace(tab.String()), "\n"); len(lines) != 8 || !strings.Contains(lines[1], "| sh -c sed") || !strings.Contains(lines[7], "total (from ctr-run's main)") {
		t.Errorf("Times.Print() =\n%s\nwant a header, 6 stages and the total", tab.String())
	}
	var none *Timings
	none.Add("x", time.Now())
	none.Print(&tab) // a nil recorder records and prints nothing
}

// TestPipelineHolding: the stages with an Rm stay once the document is
// out, and remove on "rm"; when a later stage fails, they get end of file
// and leave what they made for Container.Remove.
func TestPipelineHolding(t *testing.T) {
	mark := filepath.Join(t.TempDir(), "said")
	// A holding stage as internal/hold makes one: its document, a line on
	// stderr, the mark, stdout closed, then it waits on fd 3.
	holding := func(name string) Stage {
		st := sh(`cat; echo "` + name + ` made it" >&2; [ -z "$` + hold.MarkEnv + `" ] || echo "` + hold.Mark + `" >&2; exec >&-; read said <&3; echo "` + name + `:$said" >>` + mark)
		st.Rm = []string{name, "rm"}
		return st
	}
	said := func() string {
		data, _ := os.ReadFile(mark)
		lines := strings.Fields(string(data))
		slices.Sort(lines)
		return strings.Join(lines, " ")
	}
	p := Pipeline{Seed: []byte(`{"a":1}`), Stages: []Stage{sh(`cat`), holding("one"), holding("two")}}
	var stderr lockedBuffer
	doc, h, err := p.RunHolding(nil, &stderr)
	if err != nil || string(doc) != `{"a":1}` || h == nil {
		t.Fatalf("RunHolding() = %q, %v, %v; want the document and the held stages", doc, h, err)
	}
	// What they wrote before their documents is out before RunHolding
	// returns (ctr-run's next lines come after it); the marks are not.
	if got := stderr.String(); !strings.Contains(got, "one made it") || !strings.Contains(got, "two made it") || strings.Contains(got, hold.Mark) {
		t.Errorf("stderr when RunHolding returned = %q, want both stages' lines and no mark", got)
	}
	if got := said(); got != "" {
		t.Errorf("before Release the held stages said %q, want them still waiting", got)
	}
	done := h.Release(explain.New("t", io.Discard, false))
	if got := said(); got != "one:rm two:rm" || len(done) != 2 {
		t.Errorf("Release() = %q; the stages heard %q, want both rm", done, got)
	}

	os.Remove(mark)
	p.Stages = []Stage{holding("one"), sh(`cat >/dev/null; exit 3`)}
	if _, h, err := p.RunHolding(nil, io.Discard); err == nil || h != nil {
		t.Errorf("RunHolding(failing stage) = %v, %v; want the error and nothing held", h, err)
	}
	if got := said(); got != "one:" {
		t.Errorf("after a failure the held stage heard %q, want end of file", got)
	}

	// A stage that does not hold fails after passing its document on:
	// the document is whole, yet nothing may stay held.
	os.Remove(mark)
	p.Stages = []Stage{sh(`cat; exit 4`), holding("one")}
	if _, h, err := p.RunHolding(nil, io.Discard); err == nil || h != nil {
		t.Errorf("RunHolding(a stage failing late) = %v, %v; want the error and nothing held", h, err)
	}
	if got := said(); got != "one:" {
		t.Errorf("after a late failure the held stage heard %q, want end of file", got)
	}
}

func TestStepName(t *testing.T) {
	if got := stepName("rm: ", []string{"fs-layer", "rm", "abc"}); got != "rm: fs-layer rm abc" {
		t.Errorf("stepName() = %q", got)
	}
	if got := stepName("", []string{strings.Repeat("x", 100)}); len([]rune(got)) != 60 || !strings.HasSuffix(got, "…") {
		t.Errorf("stepName(long) = %q, want 60 characters ending in …", got)
	}
}

func TestRunStage(t *testing.T) {
	for script, want := range map[string]int{"exit 0": 0, "exit 5": 5, "kill -TERM $$": 128 + 15} {
		if got, err := RunStage(sh(script), nil); err != nil || got != want {
			t.Errorf("RunStage(%q) = %d, %v; want %d", script, got, err, want)
		}
	}
	if got, err := RunStage(Stage{Command: "no-such-command-ck", Args: nil}, nil); err == nil || got != 125 {
		t.Errorf("RunStage(missing) = %d, %v; want 125 and an error", got, err)
	}
}

func TestNsEnterAndExecArgs(t *testing.T) {
	state := t.TempDir()
	c := newContainer(t, state, "e1", "web")
	ep := "/docker-entrypoint.sh"
	o := Options{Env: []string{"A=1"}, Workdir: "/srv", User: "app", Interactive: true, TTY: true, Init: true,
		Seccomp: "unconfined", Cmd: []string{"nginx"}, Entrypoint: &ep}
	st := o.NsEnter(c, []string{"/ignored"})
	want := []string{"--spec", c.Path("config.json"), "--pid", "--ipc", "--uts", "--hostname", "e1", "--pid-file", c.Path("pid"),
		"-e", "A=1", "-w", "/srv", "-u", "app", "-i", "-t", "--init", "--seccomp", "unconfined", "--cgroup", "--", "/docker-entrypoint.sh", "nginx"}
	if st.Command != "ns-enter" || !slices.Equal(st.Args, want) {
		t.Errorf("NsEnter() = %s %q,\nwant ns-enter %q", st.Command, st.Args, want)
	}
	o = Options{Hostname: "h", HostCgroupns: true, Privileged: true, Cmd: []string{"x"}}
	if st := o.NsEnter(c, []string{"/entry"}); slices.Contains(st.Args, "--cgroup") || !slices.Contains(st.Args, "--privileged") || st.Args[6] != "h" || !slices.Equal(st.Args[len(st.Args)-3:], []string{"--", "/entry", "x"}) {
		t.Errorf("NsEnter(--hostname h, --cgroupns host, --privileged) = %q", st.Args)
	}

	if _, _, err := c.Exec([]string{"ls"}, ExecOptions{}, nil); err == nil || !strings.Contains(err.Error(), "exec needs a running container") {
		t.Errorf("Exec(not running) = %v", err)
	}
	c.NsEnter = []string{"--spec", "x", "-u", "app", "-e", "A=1", "--privileged", "--hostname", "h", "--", "-u", "not-a-flag"}
	running(t, c, sleeper(t), proc.Self())
	st, env, err := c.Exec([]string{"ls", "-l"}, ExecOptions{Env: []string{"B=2"}, Workdir: "/tmp", User: "root", Interactive: true, TTY: true},
		[]string{"HOME=/root", "CTRKIT_ROOT=/r", "CTRKIT_STATE=/s"})
	want = []string{"--target", fmt.Sprint(c.PID()), "--spec", c.Path("config.json"), "-u", "app", "-e", "A=1", "--privileged",
		"-e", "B=2", "-w", "/tmp", "-u", "root", "-i", "-t", "--", "ls", "-l"}
	if err != nil || !slices.Equal(st.Args, want) {
		t.Errorf("Exec() = %q, %v;\nwant %q", st.Args, err, want)
	}
	if !slices.Equal(env, []string{"CTRKIT_ROOT=/r", "CTRKIT_STATE=/s"}) {
		t.Errorf("Exec()'s environment = %q, want only the CTRKIT_ variables", env)
	}

	if _, err := c.Spec(); err == nil || !strings.Contains(err.Error(), "has no spec") {
		t.Errorf("Spec() without config.json = %v", err)
	}
	os.WriteFile(c.Path("config.json"), []byte(`{"ociVersion":"1.2.0","process":{"args":["sh"],"cwd":"/"}}`), 0o600)
	if s, err := c.Spec(); err != nil || s.Process.Args[0] != "sh" {
		t.Errorf("Spec() = %+v, %v", s, err)
	}
	if env := Env("/root", "/state", true); !slices.Contains(env, "CTRKIT_ROOT=/root") || !slices.Contains(env, "CTRKIT_EXPLAIN=1") {
		t.Errorf("Env() = %q", env)
	}
	if got := ImageEntrypoint(t.TempDir(), "alpine", nil); got != nil {
		t.Errorf("ImageEntrypoint(no store) = %q, want nil", got)
	}
}

// TestPauseRunsCgLimit: pause and unpause run cg-limit freeze and thaw
// (a stand-in on PATH that records its arguments and environment).
func TestPauseRunsCgLimit(t *testing.T) {
	bin, state := t.TempDir(), t.TempDir()
	calls := filepath.Join(bin, "calls")
	os.WriteFile(filepath.Join(bin, "cg-limit"), []byte("#!/bin/sh\necho \"$* $CTRKIT_STATE\" >> "+calls+"\n[ \"$1\" != thaw ] || [ ! -e "+bin+"/fail ]\n"), 0o755)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	c := newContainer(t, state, "p1", "p1")
	running(t, c, sleeper(t), proc.Self())
	if err := c.Pause(nil); err != nil || !c.has("paused") || c.Status() != "paused" {
		t.Fatalf("Pause() = %v, status %s", err, c.Status())
	}
	os.WriteFile(filepath.Join(bin, "fail"), nil, 0o644)
	if err := c.Unpause(nil); err == nil || !c.has("paused") {
		t.Errorf("Unpause() with cg-limit failing = %v; want an error, still paused", err)
	}
	os.Remove(filepath.Join(bin, "fail"))
	if err := c.Unpause(nil); err != nil || c.has("paused") {
		t.Errorf("Unpause() = %v", err)
	}
	data, _ := os.ReadFile(calls)
	if want := "freeze p1 " + state + "\nthaw p1 " + state + "\nthaw p1 " + state + "\n"; string(data) != want {
		t.Errorf("cg-limit ran %q, want %q", data, want)
	}
}

// TestFollowLogs follows a log while it is written and rotated, until the
// container has ended: every line arrives once, in order.
func TestFollowLogs(t *testing.T) {
	state := t.TempDir()
	c := newContainer(t, state, "l1", "l1")
	if err := c.Logs(&bytes.Buffer{}, false); err == nil || !strings.Contains(err.Error(), "only detached containers") {
		t.Errorf("Logs() without a log = %v", err)
	}
	w, err := OpenLog(c.Path("log"), LogOpts{MaxSize: 200, MaxFiles: 20})
	if err != nil {
		t.Fatal(err)
	}
	out, errs := w.Stream("stdout"), w.Stream("stderr")
	writeState(t, c, "supervisor", proc.Self().String())
	var want []string
	for i := 0; i < 3; i++ {
		fmt.Fprintf(out, "before %d\n", i)
		want = append(want, fmt.Sprintf("stdout before %d", i))
	}
	type line struct{ stream, text string }
	got := make(chan line, 100)
	done := make(chan error, 1)
	go func() {
		done <- c.ReadLogs(true, nil, func(stream string, _ time.Time, l []byte) error {
			got <- line{stream, strings.TrimSuffix(string(l), "\n")}
			return nil
		})
	}()
	for i := 0; i < 20; i++ {
		s, name := out, "stdout"
		if i%3 == 0 {
			s, name = errs, "stderr"
		}
		fmt.Fprintf(s, "line %02d\n", i)
		want = append(want, fmt.Sprintf("%s line %02d", name, i))
		time.Sleep(15 * time.Millisecond)
	}
	fmt.Fprint(out, "no newline")
	want = append(want, "stdout no newline")
	out.Close()
	errs.Close()
	w.Close()
	if _, err := os.Stat(c.Path("log.1")); err != nil {
		t.Errorf("the log was never rotated (log.1: %v): the test follows no rotation", err)
	}
	c.RecordExit(0)
	writeState(t, c, "supervisor", deadID(t).String())
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ReadLogs(follow) = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadLogs(follow) did not end within 5 s of the container's end")
	}
	close(got)
	var lines []string
	for l := range got {
		lines = append(lines, l.stream+" "+l.text)
	}
	if !slices.Equal(lines, want) {
		t.Errorf("followed lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	// Following a container that was removed (--rm) reads to the end and stops.
	os.RemoveAll(c.Dir)
	if inode(c.Path("log")) != 0 {
		t.Errorf("inode() of nothing is not 0")
	}
}

// serve passes a writer that is not a file: every stage's lines reach it,
// written under one lock (go test -race finds the first stage's copier
// racing the others without it).
func TestPipelineRunBufferStderr(t *testing.T) {
	p := Pipeline{Stages: []Stage{
		sh(`for i in 1 2 3 4 5; do echo first $i >&2; done; echo doc`),
		sh(`for i in 1 2 3 4 5; do echo second $i >&2; done; cat`),
	}}
	var stderr bytes.Buffer
	out, err := p.Run(nil, &stderr)
	if err != nil || string(out) != "doc\n" {
		t.Fatalf("Run() = %q, %v", out, err)
	}
	for _, want := range []string{"first 5\n", "second 5\n"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr = %q, lacks %q", stderr.String(), want)
		}
	}
}

// lockedBuffer is a bytes.Buffer the pipeline's copiers may write to while
// the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
