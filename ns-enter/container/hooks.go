package container

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"time"

	"ctrkit/internal/explain"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// RunHooks runs hooks as the runtime spec says: each with the container's
// state as JSON on stdin, in order, each within its timeout. The first
// that fails stops the rest, and the operation fails with it (prestart,
// createRuntime, createContainer, startContainer).
func RunHooks(log *explain.Log, kind string, hooks []specs.Hook, state specs.State) error {
	for _, h := range hooks {
		if err := runHook(log, kind, h, state); err != nil {
			return err
		}
	}
	return nil
}

// WarnHooks runs poststart and poststop hooks: the spec wants a failing one
// only logged as a warning (on w), "the remaining hooks and lifecycle
// continue as if the hook had succeeded": the container runs already, or
// is gone already, and failing start or delete would undo nothing.
func WarnHooks(log *explain.Log, w io.Writer, kind string, hooks []specs.Hook, state specs.State) {
	for _, h := range hooks {
		if err := runHook(log, kind, h, state); err != nil {
			fmt.Fprintf(w, "ns-enter: warning: %v\n", err)
		}
	}
}

func runHook(log *explain.Log, kind string, h specs.Hook, state specs.State) error {
	stdin, err := json.Marshal(state)
	if err != nil {
		return err
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if h.Timeout != nil {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
	}
	defer cancel()
	args := h.Args
	if len(args) == 0 {
		args = []string{h.Path}
	}
	cmd := exec.CommandContext(ctx, h.Path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Env = h.Env
	cmd.Stdin = bytes.NewReader(stdin)
	log.Step(fmt.Sprintf("%s hook: execve(%q)", kind, h.Path), explain.Join(args)+" <<< '"+string(stdin)+"'")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s hook %s: %w: %s", kind, h.Path, err, bytes.TrimSpace(out))
	}
	return nil
}
