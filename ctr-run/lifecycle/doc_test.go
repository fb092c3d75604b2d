package lifecycle

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"ctrkit/internal/spec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// TestSeedDoc: the seed's bytes are what encoding specs.Spec gives.
func TestSeedDoc(t *testing.T) {
	for _, ann := range []map[string]string{nil, {spec.IDAnnotation: "abc123def456"}} {
		want, _ := json.Marshal(specs.Spec{Version: specs.Version, Annotations: ann})
		if got := seedDoc(ann); !bytes.Equal(got, want) {
			t.Errorf("seedDoc(%v) = %s, want %s", ann, got, want)
		}
	}
}

// TestReadHead: the command and the ENTRYPOINT, from a whole document;
// a document that is not JSON is an error.
func TestReadHead(t *testing.T) {
	s := spec.Default("", []string{"nginx", "-g", "daemon off;"})
	s.Annotations = map[string]string{spec.ImageEntrypointAnnotation: `["/docker-entrypoint.sh"]`}
	var doc bytes.Buffer
	if err := spec.Write(&doc, s); err != nil {
		t.Fatal(err)
	}
	h, err := readHead(doc.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.args(), s.Process.Args) || !slices.Equal(h.entrypoint(), []string{"/docker-entrypoint.sh"}) {
		t.Errorf("readHead: args %q, entrypoint %q; want %q and [/docker-entrypoint.sh]", h.args(), h.entrypoint(), s.Process.Args)
	}
	if h, err := readHead([]byte(`{"ociVersion":"1.3.0"}`)); err != nil || h.args() != nil || h.entrypoint() != nil {
		t.Errorf("readHead of a spec without process = %+v, %v; want no command, no error", h, err)
	}
	if _, err := readHead([]byte("{")); err == nil {
		t.Error("readHead(\"{\") = nil error, want one")
	}
}
