package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	"ctrkit/internal/explain"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunHooks runs hooks as the runtime spec says: each with the container's
// state as JSON on stdin, in order, each within its timeout.
func RunHooks(log *explain.Log, kind string, hooks []specs.Hook, state specs.State) error {
	stdin, err := json.Marshal(state)
	if err != nil {
		return err
	}
	for _, h := range hooks {
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if h.Timeout != nil {
			ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		}
		args := h.Args
		if len(args) == 0 {
			args = []string{h.Path}
		}
		cmd := exec.CommandContext(ctx, h.Path, args[1:]...)
		cmd.Args[0] = args[0]
		cmd.Env = h.Env
		cmd.Stdin = bytes.NewReader(stdin)
		log.Step(fmt.Sprintf("%s hook: execve(%q)", kind, h.Path), explain.Join(args)+" <<< '"+string(stdin)+"'")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			return fmt.Errorf("%s hook %s: %w: %s", kind, h.Path, err, bytes.TrimSpace(out))
		}
	}
	return nil
}
