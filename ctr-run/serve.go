package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"ctrkit/ctr-run/engine"
	"ctrkit/internal/cli"
	"ctrkit/internal/spec"
)

type ServeCmd struct {
	Socket string `help:"The Unix socket to listen on (default: STATE/docker.sock)." placeholder:"PATH"`
	Group  string `default:"ctrkit" help:"Group that may use the socket (mode 0660), when it exists; else only root may." placeholder:"NAME"`
	TCP    string `name:"tcp" help:"Also listen on TCP, on a loopback address only (127.0.0.1:2375): no TLS, no login, so every local user becomes root." placeholder:"ADDR:PORT"`
}

func (c *ServeCmd) Help() string {
	return `Answers the Docker Engine API (versions ` + engine.MinAPIVersion + ` to ` + engine.APIVersion + `) on a Unix
socket, so the docker command and docker-py drive ctrkit:

  sudo ctr-run serve &
  DOCKER_HOST=unix:///run/ctrkit/docker.sock docker run --rm busybox echo hi

Every request runs what ctr-run runs (create's pipeline, ns-enter, stop,
rm, exec, img-pull): containers made either way are the same containers.
With --explain, each request is printed with the ctrkit commands it ran.
SIGTERM or Ctrl-C stops the daemon; detached containers keep running
under their supervisors, attached ones are killed.`
}

func (c *ServeCmd) Run(g *cli.Globals, s *Stdio) error {
	if err := needRoot(); err != nil {
		return err
	}
	sock := c.Socket
	if sock == "" {
		sock = filepath.Join(g.State, "docker.sock")
	}
	if err := spec.EnsureState(g.State); err != nil {
		return err
	}
	if conn, err := net.Dial("unix", sock); err == nil {
		conn.Close()
		return fmt.Errorf("%s: a daemon already listens there: stop it, or give another --socket", sock)
	}
	os.Remove(sock) // a socket file a killed daemon left
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (its directory must exist and be writable)", sock, err)
	}
	defer os.Remove(sock)
	if err := socketAccess(sock, c.Group); err != nil {
		ln.Close()
		return err
	}
	var tcp net.Listener
	if c.TCP != "" {
		if tcp, err = loopback(c.TCP); err != nil {
			ln.Close()
			return err
		}
		fmt.Fprintf(s.Stderr, "ctr-run serve: warning: --tcp %s: any local user who connects can run a privileged container, that is, is root\n", c.TCP)
	}
	srv := engine.New(g.Root, g.State, self(), g.Explain, s.Stderr)
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		hs.Shutdown(shut)
	}()
	if tcp != nil {
		go hs.Serve(tcp)
	}
	fmt.Fprintf(s.Stderr, "ctr-run serve: listening on %s (export DOCKER_HOST=unix://%s)\n", sock, sock)
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	srv.Close()
	return nil
}

// socketAccess gives the socket mode 0660 and the group, as dockerd gives
// its socket to the docker group: whoever may write to it is root in all
// but name, since they can run a privileged container.
func socketAccess(sock, group string) error {
	gid := 0
	if grp, err := user.LookupGroup(group); err == nil {
		gid, _ = strconv.Atoi(grp.Gid)
	}
	if err := os.Chown(sock, 0, gid); err != nil {
		return err
	}
	return os.Chmod(sock, 0o660)
}

// loopback listens on addr, which must be a loopback address: the API has
// no authentication, so it must not be reachable from other machines.
func loopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--tcp %q: %w (give 127.0.0.1:PORT)", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("--tcp %q: only a loopback address (127.0.0.1:PORT) is served: the API has no TLS and no login", addr)
	}
	return net.Listen("tcp", addr)
}
