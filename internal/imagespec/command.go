package imagespec

import (
	"encoding/json"

	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Command is process.args when the command line changes it, by docker's
// rule: the command is ENTRYPOINT + CMD; --entrypoint (entrypoint, "" to
// clear it) replaces the image's ENTRYPOINT and drops the image's CMD; a
// CMD given replaces the image's CMD. Nil means "the image's own".
func Command(imageEntrypoint []string, entrypoint *string, cmd []string) []string {
	switch {
	case entrypoint != nil:
		var ep []string
		if *entrypoint != "" {
			ep = []string{*entrypoint}
		}
		return append(ep, cmd...)
	case len(cmd) > 0:
		return append(append([]string(nil), imageEntrypoint...), cmd...)
	}
	return nil
}

// Entrypoint is the image ENTRYPOINT that ToSpec recorded in a document.
func Entrypoint(s *specs.Spec) []string {
	var ep []string
	json.Unmarshal([]byte(s.Annotations[spec.ImageEntrypointAnnotation]), &ep)
	return ep
}
