// Package hold lets a stage stay with what it made until whoever ran it
// decides. The caller gives it a descriptor (--hold FD, a pipe's read end);
// the stage writes its document, closes stdout, so the caller reads to the
// end and goes on, and sleeps on FD. The line "rm" there means: undo what
// you made, as your own rm command would. End of file without it means:
// leave it (the caller ended, or hands the removal to that rm command or to
// gc). One process then makes, holds and removes, where a removal would
// otherwise start a second one: ns-enter holds the cg-limit that makes a
// cgroup for it, img-build the fs-layer mount of each RUN step, and
// ctr-run --rm holds fs-layer, cg-limit and net-bridge while the container
// runs.
//
// In a shell, the stage's command without --hold is the first half, and
// its rm command the second. Wait is the stage's side; Caller the
// caller's.
//
// A caller that shows the stages' stderr next to its own (ctr-run copies
// it line by line, for --explain and --diagram) needs to know when a
// holding stage's lines from before its document are all there: it sets
// MarkEnv, and Wait writes the line Mark on stderr before it closes
// stdout. Once the caller has read the document to its end, the mark is
// in the pipe, after every line the stage wrote before it.
package hold

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
)

// MarkEnv, set in a stage's environment, asks Wait for Mark.
const MarkEnv = "CTRKIT_HOLD_MARK"

// Mark is the line Wait writes on stderr, when asked, before it closes
// stdout.
const Mark = "ctrkit-hold: document written"

// Wait closes stdout, then sleeps on descriptor fd; it reports whether the
// caller said "rm". With MarkEnv set it first writes Mark on stderr.
func Wait(stdout, stderr io.Writer, fd int) (rm bool, err error) {
	if os.Getenv(MarkEnv) != "" {
		fmt.Fprintln(stderr, Mark)
	}
	if c, ok := stdout.(io.Closer); ok {
		c.Close()
	}
	// Ctrl-C at the terminal signals the caller's whole process group:
	// the caller passes it to the container, and says rm when that ends.
	signal.Ignore(syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	f := os.NewFile(uintptr(fd), "hold")
	said, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return false, fmt.Errorf("--hold %d: %w (give a descriptor that is open for reading, e.g. a pipe's read end)", fd, err)
	}
	return string(bytes.TrimSpace(said)) == "rm", nil
}

// Caller is the caller's end of a stage's hold: a pipe whose read end the
// stage has as descriptor 3.
type Caller struct {
	r, w *os.File
}

// Give hands a new pipe's read end to cmd as descriptor 3 and appends
// --hold 3 to its arguments (cmd must have no ExtraFiles yet). Once cmd
// has started, or failed to, call Started.
func Give(cmd *exec.Cmd) (*Caller, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{r}
	cmd.Args = append(slices.Clip(cmd.Args), "--hold", "3")
	return &Caller{r: r, w: w}, nil
}

// Started closes the read end in the caller's process: the stage alone
// has it now, so Rm to a stage that has gone (killed, say) fails with
// EPIPE instead of filling the pipe, and the caller runs the stage's rm
// command itself.
func (c *Caller) Started() { c.r.Close() }

// Rm says "rm": the stage undoes what it made and ends.
func (c *Caller) Rm() error {
	_, err := c.w.WriteString("rm\n")
	if cerr := c.w.Close(); err == nil {
		err = cerr
	}
	return err
}

// Leave closes the caller's end without a word: the stage leaves what it
// made (or undid it already, having failed) and ends.
func (c *Caller) Leave() { c.w.Close() }
