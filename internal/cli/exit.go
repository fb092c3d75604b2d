package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/alecthomas/kong"
)

// ExitError ends a command with a chosen exit status, and a message when
// Err is set. ctr-run and ns-enter use it to pass a container's status
// through, and docker's 125/126/127 for their own failures.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Exit ends the program for the error a command's Run returned: nothing for
// nil, the message (once) and the code for an error that carries one
// (an ExitCode() int method), kong's usual exit 1 for any other.
func Exit(ctx *kong.Context, err error) {
	if err == nil {
		return
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		var e *ExitError
		if !errors.As(err, &e) || e.Err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", ctx.Model.Name, err)
		}
		os.Exit(coded.ExitCode())
	}
	ctx.FatalIfErrorf(err)
}

// ExitCode is the status to exit with.
func (e *ExitError) ExitCode() int { return e.Code }
