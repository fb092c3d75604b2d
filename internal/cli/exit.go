package cli

import (
	"os"

	"ctrkit/internal/exitcode"

	"github.com/alecthomas/kong"
)

// ExitError ends a command with a chosen exit status, and a message when
// Err is set; the type lives in internal/exitcode, kong-free, so that
// mechanism packages return it too.
type ExitError = exitcode.Error

// Exit ends the program for the error a command's Run returned, as main's
// Status does: nothing for nil, the message (once) and the code for an
// error that carries one (an ExitCode() int method), kong's format and 1
// for any other.
func Exit(ctx *kong.Context, err error) {
	if err != nil {
		os.Exit(Status(ctx.Model.Name, os.Stderr, err))
	}
}
