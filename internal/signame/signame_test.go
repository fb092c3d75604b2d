package signame

import (
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"9": syscall.SIGKILL, "TERM": syscall.SIGTERM, "sigterm": syscall.SIGTERM, "hup": syscall.SIGHUP} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "NOPE", "0", "99"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) error = nil, want an error", in)
		}
	}
}
