package cli

import (
	"errors"
	"fmt"
	"os"

	"ctrkit/internal/exitcode"

	"github.com/alecthomas/kong"
)

// ExitError ends a command with a chosen exit status, and a message when
// Err is set; the type lives in internal/exitcode, kong-free, so that
// mechanism packages return it too.
type ExitError = exitcode.Error

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
