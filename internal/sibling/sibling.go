// Package sibling finds the other ctrkit commands. Commands compose by
// running each other, exactly as a shell script would (ctr-run runs the
// pipeline, img-build runs fs-layer and ns-enter for RUN), never by
// importing each other's code.
package sibling

import (
	"os"
	"os/exec"
	"path/filepath"
)

// Path is where command name is: next to the running executable (how
// `make build` and `make install` lay out the commands), else on PATH,
// else the bare name, so that exec reports it missing.
func Path(name string) string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return name
}
