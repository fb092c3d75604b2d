// Package spec is the pipe document: an OCI runtime spec (config.json) that
// flows from one ctrkit command to the next.
//
// Each stage of a pipeline such as
//
//	img-pull busybox | fs-layer mount | cg-limit -m 64m | ns-enter
//
// reads the document from stdin (when stdin is a pipe or a file), fills in its
// part, and writes it to stdout as one JSON document. Because it is a real
// runtime spec, `runc run` can run it and `jq` can read or edit it between
// stages.
//
// The document also carries what the stages made, so it can be undone: the
// container id in the annotation "ctrkit.id", and the list of created
// resources, each with the ctrkit command that removes it, in
// "ctrkit.resources". The same list is kept in STATE/ID/resources.json
// (STATE is /run/ctrkit by default), so leftovers can be removed even when the
// document is lost, for example after a crash.
package spec

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Annotation keys that ctrkit writes into the document.
const (
	IDAnnotation        = "ctrkit.id"
	ResourcesAnnotation = "ctrkit.resources"
)

// ErrNotJSON marks input that does not even start like a JSON document,
// such as text meant for a command's stdin.
var ErrNotJSON = errors.New("not JSON")

// Resource is something a stage created in the kernel or on disk, with the
// command that removes it.
type Resource struct {
	Stage string   `json:"stage"`          // the command that made it, e.g. "cg-limit"
	Kind  string   `json:"kind"`           // cgroup, mount, netns, link, nft-table, dir …
	Name  string   `json:"name"`           // its path or name, as `ls`/`ip` would show it
	Undo  []string `json:"undo,omitempty"` // argv of the command that removes it
}

// Read decodes one runtime spec from r. A syntax error, a wrong type or a
// JSON value that is not a runtime spec (no "ociVersion") is reported with
// the line and column where it was found.
func Read(r io.Reader) (*specs.Spec, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read runtime spec: %w", err)
	}
	return Parse(data)
}

// Parse decodes one runtime spec from data (see Read).
func Parse(data []byte) (*specs.Spec, error) {
	var s specs.Spec
	err := strict(data, &s)
	if err == nil && s.Version != "" {
		return &s, nil
	}
	// Something is wrong. Decode only the version, to tell JSON that is no
	// spec at all, or no JSON, from a spec with a wrong field; only then
	// does a document pay for a second pass.
	var head struct {
		Version *string `json:"ociVersion"`
	}
	if herr := strict(data, &head); herr != nil {
		return nil, herr
	}
	if head.Version == nil {
		return nil, fmt.Errorf("not an OCI runtime spec: line 1, column 1: the document has no \"ociVersion\" field (make one with `ns-enter spec` or `runc spec`)")
	}
	if err != nil {
		return nil, err
	}
	return &s, nil
}

// strict decodes exactly one JSON value into v, turning decoder errors into
// messages with a line and column.
func strict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return fmt.Errorf("invalid runtime spec: %s: more than one JSON document", position(data, dec.InputOffset()))
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("invalid runtime spec: the document is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("invalid runtime spec: %s: unexpected end of input", position(data, int64(len(data))))
	case errors.As(err, &syntax) && syntax.Offset <= 1:
		return fmt.Errorf("invalid runtime spec: %s: %v: %w", position(data, syntax.Offset-1), err, ErrNotJSON)
	case errors.As(err, &syntax):
		// Offset counts the offending byte too.
		return fmt.Errorf("invalid runtime spec: %s: %v", position(data, syntax.Offset-1), err)
	case errors.As(err, &typ):
		where := typ.Field
		if where == "" {
			where = "the document"
		}
		// Offset is just past the value: point at its last byte.
		return fmt.Errorf("not an OCI runtime spec: %s: %s must not be a JSON %s", position(data, typ.Offset-1), where, typ.Value)
	}
	return fmt.Errorf("invalid runtime spec: %w", err)
}

// position turns a byte offset into "line L, column C" (both from 1).
func position(data []byte, off int64) string {
	off = max(0, min(off, int64(len(data))))
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d", line, col)
}

// FromStdin reads the document from stdin when stdin is a pipe or a regular
// file; it returns nil when stdin is a terminal, a device such as /dev/null,
// or an empty pipe.
func FromStdin(stdin *os.File) (*specs.Spec, error) {
	if !Piped(stdin) {
		return nil, nil
	}
	br := bufio.NewReader(stdin)
	if _, err := br.Peek(1); err == io.EOF {
		return nil, nil
	}
	return Read(br)
}

// ErrEmptyPipe is FromPipe's error for a pipe or a file that carried nothing.
var ErrEmptyPipe = errors.New("the pipe carried no runtime spec: the command before this one failed or printed nothing")

// FromPipe is FromStdin for a command that can also work without a
// document, where an empty pipe is an error instead: in a pipe of ctrkit
// commands it means the stage before failed, and going on without the
// document would run the container's command on the host's root (ns-enter)
// or make a network namespace that nothing records (net-bridge attach).
// A terminal or a device such as /dev/null still means no document.
func FromPipe(stdin *os.File) (*specs.Spec, error) {
	doc, err := FromStdin(stdin)
	if err == nil && doc == nil && Piped(stdin) {
		return nil, ErrEmptyPipe
	}
	return doc, err
}

// Piped reports whether f is a pipe, a socket or a regular file, that is
// whether it can carry a document.
func Piped(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	m := fi.Mode()
	return m&(os.ModeNamedPipe|os.ModeSocket) != 0 || m.IsRegular()
}

// Write encodes s as one indented JSON document followed by a newline.
func Write(w io.Writer, s *specs.Spec) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(s); err != nil {
		return fmt.Errorf("write runtime spec: %w", err)
	}
	return nil
}

// NewID is a fresh container id: 12 random hex digits, like docker's
// short ids.
func NewID() string {
	b := make([]byte, 6)
	rand.Read(b) // never fails on Linux (crypto/rand)
	return hex.EncodeToString(b)
}

// ID returns the container id of s, generating and recording one (12 hex
// digits, like docker's short ids) when the document has none yet.
func ID(s *specs.Spec) string {
	if id := s.Annotations[IDAnnotation]; id != "" {
		return id
	}
	id := NewID()
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[IDAnnotation] = id
	return id
}

// Resources lists what the stages recorded in s, in the order they made it.
func Resources(s *specs.Spec) ([]Resource, error) {
	raw := s.Annotations[ResourcesAnnotation]
	if raw == "" {
		return nil, nil
	}
	var rs []Resource
	if err := json.Unmarshal([]byte(raw), &rs); err != nil {
		return nil, fmt.Errorf("annotation %q: %w", ResourcesAnnotation, err)
	}
	return rs, nil
}

// Record adds r to the document and to STATE/ID/resources.json, so it can be
// removed after the container ends or after a crash.
func Record(s *specs.Spec, state string, r Resource) error {
	rs, err := Resources(s)
	if err != nil {
		return err
	}
	rs = append(rs, r)
	data, err := json.Marshal(rs)
	if err != nil {
		return err
	}
	id := ID(s)
	s.Annotations[ResourcesAnnotation] = string(data)
	return appendState(filepath.Join(state, id), r)
}

// ReadPart reads one part of a spec (linux.resources for runc update and
// cg-limit update --resources, a process for runc exec --process) as JSON
// from the file named by flag's value, "-" meaning stdin.
func ReadPart(flag, path string, v any) error {
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", flag, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s %s: not the JSON of a runtime spec's %T: %w", flag, path, v, err)
	}
	return nil
}
