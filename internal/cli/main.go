package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kong"

	_ "ctrkit/internal/hugeheap" // every command's heap on huge pages from its start
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
	k, ctx, err := Parse(grammar, args, options(name, description, stdout, stderr)...)
	if err != nil {
		if k == nil {
			return err
		}
		k.FatalIfErrorf(err) // prints the usage and the error, then exits (panics)
	}
	return ctx.Run(binds...)
}

// Parse is kong.New(grammar, opts...) then Parse(args), through the cut
// grammar narrow makes when it can (narrow.go: the common case, cheaper).
// A usage error is the whole grammar's, with its parser for the message;
// the parser is nil only when grammar itself is wrong.
func Parse(grammar any, args []string, opts ...kong.Option) (*kong.Kong, *kong.Context, error) {
	if n := narrow(grammar, args); n != nil {
		if k, err := kong.New(n.grammar, opts...); err == nil {
			if ctx, err := k.Parse(args); err == nil {
				n.commit()
				return k, ctx, nil
			}
		}
	}
	k, err := kong.New(grammar, opts...)
	if err != nil {
		return nil, nil, err
	}
	ctx, err := k.Parse(args)
	return k, ctx, err
}

// options are those of every command's parser: help and usage errors on
// the command's streams, and kong's exit as a panic Main recovers.
func options(name, description string, stdout, stderr io.Writer) []kong.Option {
	return []kong.Option{kong.Name(name), kong.Description(description), kong.ShortUsageOnError(),
		kong.Writers(stdout, stderr), kong.Exit(func(code int) { panic(kongExit(code)) })}
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
