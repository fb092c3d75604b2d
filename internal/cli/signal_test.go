package cli

import (
	"syscall"
	"testing"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{"9": syscall.SIGKILL, "TERM": syscall.SIGTERM, "sigterm": syscall.SIGTERM, "hup": syscall.SIGHUP} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "NOPE", "0", "99"} {
		if _, err := ParseSignal(in); err == nil {
			t.Errorf("ParseSignal(%q) error = nil, want an error", in)
		}
	}
}
