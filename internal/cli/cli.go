// Package cli holds the flags every ctrkit command shares.
package cli

import (
	"io"

	"ctrkit/internal/explain"
)

// Globals is embedded in every command's kong CLI, so the same flags and
// environment variables work everywhere.
type Globals struct {
	Explain bool   `help:"Print each step (kernel call and shell equivalent) on stderr." env:"CTRKIT_EXPLAIN"`
	Root    string `help:"Where images and layers are stored." default:"/var/lib/ctrkit" env:"CTRKIT_ROOT" type:"path" placeholder:"DIR"`
	State   string `help:"Where runtime state of containers is kept." default:"/run/ctrkit" env:"CTRKIT_STATE" type:"path" placeholder:"DIR"`
}

// Log returns the explain log for tool, silent unless --explain is set.
func (g *Globals) Log(tool string, stderr io.Writer) *explain.Log {
	return explain.New(tool, stderr, g.Explain)
}
