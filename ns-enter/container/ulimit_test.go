package container

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestUlimitCommand(t *testing.T) {
	for _, tt := range []struct {
		rl   specs.POSIXRlimit
		want string
	}{
		{specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 1024}, "ulimit -n 1024"},
		{specs.POSIXRlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 4096}, "ulimit -Hn 4096 && ulimit -Sn 1024"},
		{specs.POSIXRlimit{Type: "RLIMIT_STACK", Soft: 8 << 20, Hard: unix.RLIM_INFINITY}, "ulimit -Hs unlimited && ulimit -Ss 8192"},
		{specs.POSIXRlimit{Type: "RLIMIT_CORE", Soft: 1000, Hard: 1000}, "prlimit --core=1000:1000 --pid $$"},
	} {
		if got := ulimitCommand(tt.rl); got != tt.want {
			t.Errorf("ulimitCommand(%+v) = %q, want %q", tt.rl, got, tt.want)
		}
	}
}
