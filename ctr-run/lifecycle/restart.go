package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// restartDelay is the first pause before a restart (docker's 100 ms).
const restartDelay = 100 * time.Millisecond

// RestartPolicy is docker run's --restart, carried out by the supervisor
// (ctr-run supervise, or the foreground ctr-run):
//
//	no               never restart (the default)
//	on-failure[:N]   restart after a non-zero exit, at most N times
//	always           restart after any exit
//	unless-stopped   as always (docker tells them apart only when its daemon
//	                 restarts; ctrkit has no daemon)
//
// ctr-run stop, kill and rm mark the container stopped first, so none of
// these restarts it after them, as docker does.
type RestartPolicy struct {
	Name       string
	MaxRetries int // on-failure:N; 0 is unlimited
}

// ParseRestart reads a --restart value.
func ParseRestart(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasN {
			var err error
			if p.MaxRetries, err = strconv.Atoi(n); err != nil || p.MaxRetries < 0 {
				return p, fmt.Errorf("--restart %q: the maximum restart count must be a number ≥ 0 (on-failure:3)", s)
			}
		}
		return p, nil
	default:
		return p, fmt.Errorf("--restart %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	if hasN {
		return p, fmt.Errorf("--restart %q: only on-failure takes a maximum restart count", s)
	}
	return p, nil
}

// Again reports whether a container that exited with status after
// restarts restarts should run again.
func (p RestartPolicy) Again(status, restarts int) bool {
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return status != 0 && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return false
}

// Restarts is how often the supervisor has restarted the container.
func (c *Container) Restarts() int { return readInt(c.Path("restarts")) }

// Pause freezes every process of the container: cg-limit freeze writes 1
// to cgroup.freeze (v2) or FROZEN to freezer.state (v1). The processes stay
// in memory, stopped where they were, and no signal but SIGKILL reaches them.
func (c *Container) Pause(env []string) error {
	if c.PID() == 0 {
		return fmt.Errorf("container %s is not running (%s): only a running container can pause", c.Name, c.Status())
	}
	if c.has("paused") {
		return fmt.Errorf("container %s is already paused: ctr-run unpause %s", c.Name, c.Name)
	}
	if err := c.cgLimit(env, os.Stderr, "freeze"); err != nil {
		return err
	}
	return c.mark("paused")
}

// Unpause thaws the container's processes (cg-limit thaw).
func (c *Container) Unpause(env []string) error {
	if !c.has("paused") {
		return fmt.Errorf("container %s is not paused", c.Name)
	}
	if err := c.cgLimit(env, os.Stderr, "thaw"); err != nil {
		return err
	}
	return os.Remove(c.Path("paused"))
}

func (c *Container) cgLimit(env []string, stderr io.Writer, verb string) error {
	cmd := exec.Command(Bin("cg-limit"), verb, c.ID)
	if env == nil {
		env = append(os.Environ(), "CTRKIT_STATE="+stateOf(c))
	}
	cmd.Env, cmd.Stdout, cmd.Stderr = env, stderr, stderr
	logFor(env, stderr).Step(fmt.Sprintf("fork(); execve(%q)", cmd.Path), "cg-limit "+verb+" "+c.ID)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cg-limit %s %s: %w", verb, c.ID, err)
	}
	return nil
}

// Kill is ctr-run kill: the container is marked stopped, so its restart
// policy ends, then signalled.
func (c *Container) Kill(sig syscall.Signal) error {
	if err := c.mark("stopped"); err != nil {
		return err
	}
	return c.Signal(sig)
}

// Rewind makes an exited container startable again, as docker start and
// docker restart do: what its stages made (layers, cgroup, network) stays
// until rm, so only the last run's records go, and ns-enter runs the same
// config.json once more. It waits for the last run's supervisor to end,
// so that no late exit record lands on the new run.
func (c *Container) Rewind() error {
	if c.PID() != 0 {
		return fmt.Errorf("container %s is running: stop it first", c.Name)
	}
	sup := c.readID("supervisor")
	if sup.PID != os.Getpid() && !sup.Wait(5*time.Second) {
		return fmt.Errorf("container %s: its supervisor %s has not ended: try again, or ctr-run rm -f it", c.Name, sup)
	}
	for _, f := range []string{"pid", "process", "exit", "stopped", "restarting", "paused", "supervisor"} {
		if err := os.Remove(c.Path(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}
