package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
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
	"golang.org/x/term"
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

func (c *PullCmd) Run(g *cli.Globals) error {
	log := g.Log("img-pull", os.Stderr)
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
		pw, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		opt.Auth = authn.FromConfig(authn.AuthConfig{Username: c.Username, Password: strings.TrimRight(pw, "\r\n")})
	} else if doc, err = spec.FromStdin(os.Stdin); err != nil {
		return err
	}
	if c.Username != "" && !c.PasswordStdin {
		return errors.New("--username needs --password-stdin (echo \"$PASSWORD\" | img-pull -u USER --password-stdin REF)")
	}
	if !c.Quiet {
		opt.Progress = newProgress(os.Stderr)
	}
	if c.Pull != "always" {
		img, err := st.Resolve(c.Ref)
		switch {
		case err == nil:
			log.Note("%s is in the store (%s): no pull (--pull %s)", img.Name, img.Descriptor.Digest, c.Pull)
			return c.print(doc, img.Name, img.Descriptor, img.Config)
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
		fmt.Fprintf(os.Stderr, "img-pull: %s: %s (%d blobs downloaded, %s; %d already stored)\n",
			res.Name, res.Manifest.Digest, res.Downloaded, human(res.Bytes), res.Stored)
		if res.Registry != res.Manifest.Digest {
			fmt.Fprintf(os.Stderr, "img-pull: stored with OCI media types; the registry's digest is %s\n", res.Registry)
		}
	}
	if res.Artifact {
		return c.print(doc, res.Name, res.Manifest, nil)
	}
	return c.print(doc, res.Name, res.Manifest, res.Config)
}

// print writes the runtime spec in a pipe, the manifest digest otherwise.
func (c *PullCmd) print(doc *specs.Spec, name string, manifest v1.Descriptor, cfg *v1.ConfigFile) error {
	printSpec := c.Print == "spec" || (c.Print == "auto" && (doc != nil || !term.IsTerminal(int(os.Stdout.Fd()))))
	if !printSpec {
		fmt.Println(manifest.Digest)
		return nil
	}
	if cfg == nil {
		return fmt.Errorf("%s is %w: it was stored, but it has no root file system to run (img-pull inspect %s shows it; --print digest prints its digest)", name, store.ErrArtifact, name)
	}
	return spec.Write(os.Stdout, imagespec.ToSpec(doc, name, manifest, cfg))
}

type LsCmd struct{}

func (c *LsCmd) Run(g *cli.Globals) error {
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	es, err := st.List()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tDIGEST\tPLATFORM\tSIZE")
	for _, e := range es {
		size, plat := "?", "?"
		if img, err := st.ResolveAny(e.Descriptor.Digest.String()); err == nil && img.Config == nil {
			plat = "artifact"
		} else if err == nil {
			n := img.Manifest.Config.Size
			for _, l := range img.Manifest.Layers {
				n += l.Size
			}
			size = human(n)
			plat = img.Config.OS + "/" + img.Config.Architecture
			if img.Config.Variant != "" {
				plat += "/" + img.Config.Variant
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.Name, e.Descriptor.Digest.String()[:19], plat, size)
	}
	return w.Flush()
}

type InspectCmd struct {
	Ref string `arg:"" help:"The image: a name (alpine:3.20) or a manifest digest (sha256:… or its first 12 hex digits)."`
}

func (c *InspectCmd) Run(g *cli.Globals) error {
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	img, err := st.ResolveAny(c.Ref)
	if err != nil {
		return err
	}
	ann := img.Descriptor.Annotations
	out := struct {
		Name           string          `json:"name"`
		Digest         string          `json:"digest"`
		RegistryDigest string          `json:"registryDigest"`
		ListDigest     string          `json:"listDigest,omitempty"`
		ArtifactType   string          `json:"artifactType,omitempty"`
		Path           string          `json:"path"`
		Manifest       json.RawMessage `json:"manifest"`
		Config         json.RawMessage `json:"config"`
	}{Name: img.Name, Digest: img.Descriptor.Digest.String(), RegistryDigest: ann[store.RegistryDigestAnnotation],
		ListDigest: ann[store.RegistryListAnnotation], Path: st.BlobPath(img.Descriptor.Digest),
		Manifest: img.RawManifest, Config: img.RawConfig}
	if out.RegistryDigest == "" {
		out.RegistryDigest = out.Digest
	}
	if img.Config == nil {
		out.ArtifactType = store.ArtifactType(img.Manifest)
		if !json.Valid(out.Config) {
			out.Config = nil
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

type VerifyCmd struct {
	Ref string `arg:"" optional:"" help:"Check only this image (default: every image in the store)."`
}

func (c *VerifyCmd) Help() string {
	return `Like ctr content verify: checks the layout (oci-layout, index.json) and,
for each image, that its manifest, config and every layer have the size
and sha256 their descriptors say, hashing every byte. Prints one line per
problem and exits 1 when there is one.`
}

func (c *VerifyCmd) Run(g *cli.Globals) error {
	st := &store.Store{Root: g.Root, Dir: filepath.Join(g.Root, "oci")}
	if _, err := os.Stat(st.Dir); err != nil {
		return fmt.Errorf("verify: no image store at %s: %w", st.Dir, err)
	}
	checked, problems, err := st.Verify(c.Ref)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Println(p.Err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("verify: %d problems in %s (pull the images named again, or img-pull rm them and img-pull gc)", len(problems), st.Dir)
	}
	fmt.Printf("ok: %d images, every blob has its size and digest\n", len(checked))
	return nil
}

type RmCmd struct {
	Refs []string `arg:"" help:"The images to remove, by name or manifest digest."`
}

func (c *RmCmd) Run(g *cli.Globals) error {
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	for _, ref := range c.Refs {
		e, err := st.Remove(ref)
		if err != nil {
			return err
		}
		fmt.Printf("untagged %s (%s)\n", e.Name, e.Descriptor.Digest)
	}
	fmt.Fprintln(os.Stderr, "img-pull: the blobs stay until `img-pull gc`")
	return nil
}

type GcCmd struct {
	DryRun bool `help:"Only list what gc would remove."`
}

func (c *GcCmd) Run(g *cli.Globals) error {
	log := g.Log("img-pull", os.Stderr)
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	tags, err := staleBuildTags(st, g.Root, c.DryRun)
	if err != nil {
		return err
	}
	if c.DryRun {
		gone := map[string]bool{}
		for _, t := range tags {
			gone[t] = true
		}
		blobs, size, err := st.Unreferenced(gone)
		if err != nil {
			return err
		}
		printGC(tags, blobs, size, true)
		return nil
	}
	removed, freed, err := st.GC()
	for _, h := range removed {
		log.Step("unlink blobs/sha256/"+h.Hex, "rm "+st.BlobPath(h))
	}
	if err != nil {
		return err
	}
	printGC(tags, removed, freed, false)
	return nil
}

type ImportCmd struct {
	Args []string `arg:"" name:"ROOTFS.tar… NAME[:TAG]" help:"One or more tar files of a root filesystem (one layer each, bottom first), then the image's name."`
	Cmd  []string `help:"The image's CMD (repeat for each word), e.g. --cmd /bin/sh."`
	Env  []string `short:"e" help:"An ENV variable of the image, KEY=VALUE (repeatable)."`
}

func (c *ImportCmd) Help() string {
	return `Each tar becomes one gzip-compressed OCI layer (its digest names the
compressed bytes, its diff_id in the config names the tar itself); the config
and the manifest are written, then the name in index.json. This is how the
offline default image is made from Debian's busybox-static.`
}

func (c *ImportCmd) Run(g *cli.Globals) error {
	if len(c.Args) < 2 {
		return errors.New("import needs at least one tar file and a name: img-pull import rootfs.tar demo:1")
	}
	st, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	tars, name := c.Args[:len(c.Args)-1], c.Args[len(c.Args)-1]
	res, err := pull.Import(st, tars, name, pull.ImportOptions{Cmd: c.Cmd, Env: c.Env, Log: g.Log("img-pull", os.Stderr)})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "img-pull: imported %s\n", res.Name)
	fmt.Println(res.Manifest.Digest)
	return nil
}

// human prints a byte count like docker does: 3.4MB.
func human(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1fGB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1fkB", float64(n)/1e3)
	}
	return fmt.Sprintf("%dB", n)
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
