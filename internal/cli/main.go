package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"
)

// kongExit is how kong's exit (after --help, or a usage error it has
// printed) leaves Main: kong expects exit not to return, so it panics with
// the code and Main recovers it.
type kongExit int

// Main is a whole command but the exit, the seam under every main (u-root's
// run(args, stdin, stdout, stderr)): it parses args into grammar with
// kong, writing help and usage errors to stdout and stderr, and runs the
// chosen verb with binds. Tests call it as a shell calls the binary. kong's
// own exits come back as an *ExitError without a message (kong printed it;
// a 0 after --help is nil).
func Main(name, description string, grammar any, args []string, stdout, stderr io.Writer, binds ...any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			code, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			err = nil
			if code != 0 {
				err = &ExitError{Code: int(code)}
			}
		}
	}()
	if n := narrow(grammar, args); n != nil { // narrow.go: the common case, cheaper
		if k, err := newParser(name, description, n.grammar, stdout, stderr); err == nil {
			if ctx, err := k.Parse(args); err == nil {
				n.commit()
				return ctx.Run(binds...)
			}
		}
	}
	k, err := newParser(name, description, grammar, stdout, stderr)
	if err != nil {
		return err
	}
	ctx, err := k.Parse(args)
	if err != nil {
		k.FatalIfErrorf(err) // prints the usage and the error, then exits (panics)
	}
	return ctx.Run(binds...)
}

func newParser(name, description string, grammar any, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(grammar, kong.Name(name), kong.Description(description), kong.ShortUsageOnError(),
		kong.Writers(stdout, stderr), kong.Exit(func(code int) { panic(kongExit(code)) }))
}

// Status prints err once and returns the status to exit with, as Exit
// does for a kong context: nothing for nil; the message and the code of an
// error that carries one (ExitCode() int); otherwise kong's own format,
// "NAME: error: …" with continuation lines under the text, and 1.
func Status(name string, stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		var e *ExitError
		if !errors.As(err, &e) || e.Err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
		}
		return coded.ExitCode()
	}
	leader := name + ": error: "
	for i, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		if i > 0 {
			line = strings.Repeat(" ", len(leader)) + line
		} else {
			line = leader + line
		}
		fmt.Fprintln(stderr, line)
	}
	return 1
}
