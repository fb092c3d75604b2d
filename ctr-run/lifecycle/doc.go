package lifecycle

// The documents ctr-run writes and reads itself. On a type's first use,
// encoding/json builds the encoder (or the field table) of that type and
// of every type it reaches: for specs.Spec, with its Linux, Windows, VM
// and z/OS sections, that is 2–3 ms of a process's start on this kind of
// machine, once for writing and once for reading. ctr-run writes only the
// seed and reads only what ns-enter's command line needs, so it uses
// types of that size; every stage and ns-enter read the whole document
// and check it.

import (
	"encoding/json"
	"fmt"

	"ctrkit/internal/imagespec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// seedDoc is the first stage's document: the spec's version and the
// annotations (the container's id), as json.Marshal(specs.Spec{…}) writes
// them.
func seedDoc(annotations map[string]string) []byte {
	seed, _ := json.Marshal(struct {
		Version     string            `json:"ociVersion"`
		Annotations map[string]string `json:"annotations,omitempty"`
	}{specs.Version, annotations})
	return seed
}

// docHead is what ctr-run reads of the pipeline's document: the command
// the image runs and the annotations (its ENTRYPOINT among them).
type docHead struct {
	Process *struct {
		Args []string `json:"args"`
	} `json:"process"`
	Annotations map[string]string `json:"annotations"`
}

func readHead(doc []byte) (*docHead, error) {
	var h docHead
	if err := json.Unmarshal(doc, &h); err != nil {
		return nil, fmt.Errorf("the pipeline's document: %w", err)
	}
	return &h, nil
}

// args is the command of the document's process, or nil.
func (h *docHead) args() []string {
	if h.Process == nil {
		return nil
	}
	return h.Process.Args
}

// entrypoint is the image's ENTRYPOINT, which img-pull recorded.
func (h *docHead) entrypoint() []string {
	return imagespec.Entrypoint(&specs.Spec{Annotations: h.Annotations})
}
