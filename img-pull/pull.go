package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"ctrkit/img-pull/pull"
	"ctrkit/internal/cli"
	"ctrkit/internal/imagespec"
	"ctrkit/internal/spec"
	"ctrkit/internal/store"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type PullCmd struct {
	Ref           string        `arg:"" help:"The image: NAME[:TAG], NAME@sha256:DIGEST, [HOST[:PORT]/]NAME…; Docker Hub when there is no host."`
	Platform      string        `help:"Platform to pick from a manifest list, OS/ARCH[/VARIANT] (default: the host's)." placeholder:"OS/ARCH"`
	Username      string        `short:"u" help:"User name for the registry (with --password-stdin); otherwise ~/.docker/config.json is used." env:"CTRKIT_REGISTRY_USER"`
	PasswordStdin bool          `help:"Read the registry password from stdin."`
	Insecure      bool          `help:"Allow plain HTTP and unverified TLS certificates (localhost and 127.0.0.1 need no flag)."`
	Jobs          int           `short:"j" default:"3" help:"How many blobs to download at once."`
	Print         string        `enum:"auto,spec,digest" default:"auto" help:"What to print on stdout: the runtime spec (spec), the manifest digest (digest), or spec in a pipe and digest on a terminal (auto)."`
	Quiet         bool          `short:"q" help:"No progress on stderr."`
	Pull          string        `enum:"always,missing,never" default:"always" help:"always: ask the registry (like docker pull); missing: only when the store has no image of that name (like docker run); never: use the store only."`
	Timeout       time.Duration `help:"Give up when the whole pull takes longer (0: never)." placeholder:"DURATION"`
	StallTimeout  time.Duration `default:"30s" help:"Retry a download that received no bytes for this long." placeholder:"DURATION"`
	Retries       int           `default:"5" help:"Attempts per blob and manifest before giving up (on 5xx, 429, cut or stalled connections), with growing waits."`
}

func (c *PullCmd) Help() string {
	return `Talks the OCI distribution protocol: GET /v2/ (a 401 names the token service),
GET /v2/NAME/manifests/TAG (a manifest list is resolved to the host's
platform), then GET /v2/NAME/blobs/DIGEST for the config and each layer not
yet stored, several at once. Every blob is hashed while it is written and
renamed into ROOT/oci/blobs/sha256/ only if its sha256 and size match; the
tag is written to ROOT/oci/index.json last. A killed pull leaves nothing
the store refers to; run it again: it continues the blob it was cut in
(HTTP Range). Answers 5xx and 429 (after its Retry-After), refused, cut
and stalled connections are retried with growing waits (--retries,
--stall-timeout); two pulls of one blob download it once. Docker schema 2
manifests are stored with OCI media types (as skopeo does), the registry's
digest recorded; OCI artifacts are stored but cannot be run.

In a pipe (stdout is not a terminal, or stdin carries a runtime spec) it
prints the OCI runtime spec made from the image config: process.args =
Entrypoint + Cmd, env, cwd, user, and annotations naming the image by its
manifest digest. On a terminal it prints the manifest digest.`
}

func (c *PullCmd) Run(g *cli.Globals, s *Stdio) error {
	log := g.Log("img-pull", s.Stderr)
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	opt := pull.Options{Platform: c.Platform, Insecure: c.Insecure, Jobs: c.Jobs, Log: log,
		Tries: max(c.Retries, 1), StallTimeout: c.StallTimeout}
	var doc *specs.Spec
	if c.PasswordStdin {
		if c.Username == "" {
			return errors.New("--password-stdin needs --username")
		}
		pw, err := bufio.NewReader(s.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		opt.Auth = authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: strings.TrimRight(pw, "\r\n")})
	} else if doc, err = spec.FromStdin(s.Stdin); err != nil {
		return err
	}
	if c.Username != "" && !c.PasswordStdin {
		return errors.New("--username needs --password-stdin (echo \"$PASSWORD\" | img-pull -u USER --password-stdin REF)")
	}
	if !c.Quiet {
		opt.Progress = newProgress(s.Stderr)
	}
	if c.Pull != "always" {
		img, err := st.Resolve(c.Ref)
		switch {
		case err == nil:
			log.Note("%s is in the store (%s): no pull (--pull %s)", img.Name, img.Descriptor.Digest, c.Pull)
			return c.print(s, doc, img.Name, img.Descriptor, img.Config)
		case c.Pull == "never" || !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	res, err := pull.Pull(ctx, st, c.Ref, opt)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("pull %s: gave up after --timeout %s: %w (what was downloaded is kept; run it again to continue)", c.Ref, c.Timeout, err)
	}
	if p, ok := opt.Progress.(interface{ Wait() }); ok {
		p.Wait()
	}
	if err != nil {
		if _, rerr := st.Resolve(c.Ref); errors.Is(rerr, store.ErrNotFound) {
			return notPulled(c.Ref, g.Root, err)
		}
		return err
	}
	if !c.Quiet {
		fmt.Fprintf(s.Stderr, "img-pull: %s: %s (%d blobs downloaded, %s; %d already stored)\n",
			res.Name, res.Manifest.Digest, res.Downloaded, human(res.Bytes), res.Stored)
		if res.Registry != res.Manifest.Digest {
			fmt.Fprintf(s.Stderr, "img-pull: stored with OCI media types; the registry's digest is %s\n", res.Registry)
		}
	}
	if res.Artifact {
		return c.print(s, doc, res.Name, res.Manifest, nil)
	}
	return c.print(s, doc, res.Name, res.Manifest, res.Config)
}

// print writes the runtime spec in a pipe, the manifest digest otherwise.
func (c *PullCmd) print(s *Stdio, doc *specs.Spec, name string, manifest v1.Descriptor, cfg *v1.ConfigFile) error {
	printSpec := c.Print == "spec" || (c.Print == "auto" && (doc != nil || !terminal(s.Stdout)))
	if !printSpec {
		fmt.Fprintln(s.Stdout, manifest.Digest)
		return nil
	}
	if cfg == nil {
		return fmt.Errorf("%s is %w: it was stored, but it has no root file system to run (img-pull inspect %s shows it; --print digest prints its digest)", name, store.ErrArtifact, name)
	}
	return spec.Write(s.Stdout, imagespec.ToSpec(doc, name, manifest, cfg))
}

// notPulled is the one message for an image the store lacks and the pull
// could not fetch (a mistyped name, no network): the cause in a few words,
// and what to do next, instead of the registry's whole error chain.
func notPulled(ref, root string, err error) error {
	cause := err
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &dns):
		cause = dns
	case errors.As(err, &op):
		cause = op
		if r, perr := name.ParseReference(ref); perr == nil {
			cause = fmt.Errorf("cannot reach registry %s (%w)", r.Context().RegistryStr(), op)
		}
	}
	return fmt.Errorf("image %q is not in the store (%s) and could not be pulled: %w\n"+
		"next: scripts/mk-image.sh makes the offline busybox image; img-pull ls lists the store (a typo?); "+
		"img-pull %s pulls it once the registry is in reach; --pull never runs from the store only", ref, root, cause, ref)
}
