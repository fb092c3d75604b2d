// Package exitcode is the exit status an error carries. It has no
// dependencies, so the mechanism packages (which may not import the CLI
// framework) and the seven mains share one type for it.
//
// The codes follow docker run's: 125 when the tool itself failed, 126 when
// the command cannot be executed, 127 when it is not found; any other is
// the status of the command or container the tool ran, passed through.
package exitcode

import "fmt"

// Error ends a command with status Code, and a message when Err is set
// (none: whatever ran has said why, or the status says it all).
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the status to exit with.
func (e *Error) ExitCode() int { return e.Code }
