package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"ctrkit/img-build/build"
	"ctrkit/img-build/dockerfile"
	"ctrkit/img-build/push"
	"ctrkit/internal/cli"
	"ctrkit/internal/sibling"
	"ctrkit/internal/store"
)

type BuildCmd struct {
	Context    string   `arg:"" help:"The build context: the directory COPY and ADD read from." type:"existingdir"`
	Tag        []string `short:"t" help:"Name the image NAME[:TAG] (repeatable)." placeholder:"NAME:TAG"`
	File       string   `short:"f" help:"The Dockerfile (default: CONTEXT/Dockerfile)." placeholder:"FILE"`
	BuildArg   []string `help:"Set a build ARG; KEY alone takes the value from the environment." placeholder:"KEY=VALUE"`
	NoCache    bool     `help:"Do not use the cache: run every step (the results are still cached)."`
	Target     string   `help:"Build this stage (FROM … AS STAGE) and stop." placeholder:"STAGE"`
	Network    string   `enum:"none,host" default:"none" help:"Network of RUN steps: none (only a loopback) or host."`
	PushResult bool     `name:"push" help:"Push the image to the registry its first -t names, after the build."`
	Insecure   bool     `help:"With --push: allow plain HTTP (localhost and 127.0.0.1 need no flag)."`
}

func (c *BuildCmd) Help() string {
	return `Reads the Dockerfile and runs its instructions in order. ENV, WORKDIR,
USER, LABEL, EXPOSE, CMD, ENTRYPOINT, VOLUME, SHELL only change the image
config. COPY and ADD write the files into a new layer. RUN runs the
command in a container of the layers so far, with ctrkit's own commands:

  fs-layer mount --name ID IMAGE-SO-FAR    (overlay of the layers)
  ns-enter --spec config.json              (the command, no network)
  fs-layer diff ID -o layer.tar            (the upper dir = the new layer)
  fs-layer rm ID

Each RUN, COPY and ADD is cached under a key: sha256 of the parent's key,
the instruction after $VAR substitution, and for COPY/ADD the content,
mode and owner of the source files (not their mtimes). A rebuild finds the
key and reuses the layer: the step prints CACHED and runs nothing.
--explain prints each key's inputs and why a step missed.

Prints the image's manifest digest on stdout; progress and RUN output go
to stderr.`
}

func (c *BuildCmd) Run(g *cli.Globals) error {
	log := g.Log("img-build", os.Stderr)
	ctxDir, err := filepath.Abs(c.Context)
	if err != nil {
		return err
	}
	file := c.File
	if file == "" {
		file = filepath.Join(ctxDir, "Dockerfile")
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open the Dockerfile: %w (give one with -f FILE)", err)
	}
	df, err := dockerfile.Parse(f, file)
	f.Close()
	if err != nil {
		return err
	}
	var ign *build.Ignore
	if igf, err := os.Open(filepath.Join(ctxDir, ".dockerignore")); err == nil {
		ign, err = build.ParseIgnore(igf)
		igf.Close()
		if err != nil {
			return fmt.Errorf("read .dockerignore: %w", err)
		}
	}
	args := map[string]string{}
	for _, a := range c.BuildArg {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				return fmt.Errorf("--build-arg %s: no value, and %s is not set in the environment (use --build-arg %s=VALUE)", k, k, k)
			}
		}
		args[k] = v
	}
	var names []string
	for _, t := range c.Tag {
		full, err := store.Normalize(t)
		if err != nil {
			return fmt.Errorf("-t %s: %w", t, err)
		}
		names = append(names, full)
	}
	if c.PushResult && len(names) == 0 {
		return errors.New("--push needs -t REGISTRY/NAME:TAG")
	}
	env := append(os.Environ(), "CTRKIT_ROOT="+g.Root, "CTRKIT_STATE="+g.State)
	if g.Explain {
		env = append(env, "CTRKIT_EXPLAIN=1")
	}
	opt := build.Options{Root: g.Root, State: g.State, Context: ctxDir, Dockerfile: df, Ignore: ign,
		BuildArgs: args, NoCache: c.NoCache, Target: c.Target, Network: c.Network, Out: os.Stderr, Log: log,
		Exec: build.Executor{Bin: sibling.Path, Env: env, Out: os.Stderr, Log: log}}
	if len(names) > 0 {
		opt.Tag = names[0]
	}
	res, err := build.Build(opt)
	if err != nil {
		return err
	}
	images, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	for _, n := range names[min(1, len(names)):] {
		if err := images.Tag(n, res.Manifest); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "img-build: %d steps, %d cached, %d RUN executed; image %s", res.Steps, res.Cached, res.Ran, res.Manifest.Digest)
	if len(names) > 0 {
		fmt.Fprintf(os.Stderr, " tagged %s", strings.Join(names, ", "))
	}
	fmt.Fprintln(os.Stderr)
	fmt.Println(res.Manifest.Digest)
	if c.PushResult {
		r, err := push.Push(images, names[0], names[0], push.Options{Insecure: c.Insecure, Out: os.Stderr, Log: log})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "img-build: pushed %s (%d blobs uploaded, %d already there)\n", names[0], r.Uploaded, r.Skipped)
	}
	return nil
}

type PushCmd struct {
	Image    string `arg:"" help:"The image in the store, NAME[:TAG]."`
	Dest     string `arg:"" optional:"" help:"Where to push, REGISTRY/NAME[:TAG] (default: the image's own name)."`
	Insecure bool   `help:"Allow plain HTTP (localhost and 127.0.0.1 need no flag)."`
}

func (c *PushCmd) Help() string {
	return `For each layer, then the config: HEAD /v2/NAME/blobs/DIGEST; a 200 means
the registry has the blob (skipped, and said so), a 404 that it is
uploaded (POST /v2/NAME/blobs/uploads/, PUT …?digest=…). The manifest is
PUT last. Credentials come from ~/.docker/config.json, as with docker.
Prints the pushed manifest digest.`
}

func (c *PushCmd) Run(g *cli.Globals) error {
	images, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	dest := c.Dest
	if dest == "" {
		dest = c.Image
	}
	res, err := push.Push(images, c.Image, dest, push.Options{Insecure: c.Insecure, Out: os.Stderr, Log: g.Log("img-build", os.Stderr)})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "img-build: pushed %s: %d blobs uploaded, %d already there\n", dest, res.Uploaded, res.Skipped)
	fmt.Println(res.Digest)
	return nil
}
