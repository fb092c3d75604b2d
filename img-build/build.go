package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"ctrkit/img-build/build"
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

func (c *BuildCmd) Run(g *cli.Globals, io *stdio) error {
	log := g.Log("img-build", io.err)
	ctxDir, df, ign, err := build.Load(c.Context, c.File)
	if err != nil {
		return err
	}
	args, err := build.ParseBuildArgs(c.BuildArg, os.LookupEnv)
	if err != nil {
		return err
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
	res, err := build.Build(build.Options{Root: g.Root, State: g.State, Context: ctxDir, Dockerfile: df, Ignore: ign,
		Tags: names, BuildArgs: args, NoCache: c.NoCache, Target: c.Target, Network: c.Network, Out: io.err, Log: log,
		Exec: build.Executor{Bin: sibling.Path, Env: env, Out: io.err, Log: log}})
	if err != nil {
		return err
	}
	fmt.Fprintf(io.err, "img-build: %d steps, %d cached, %d RUN executed; image %s", res.Steps, res.Cached, res.Ran, res.Manifest.Digest)
	if len(names) > 0 {
		fmt.Fprintf(io.err, " tagged %s", strings.Join(names, ", "))
	}
	fmt.Fprintln(io.err)
	fmt.Fprintln(io.out, res.Manifest.Digest)
	if !c.PushResult {
		return nil
	}
	images, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	r, err := push.Push(images, names[0], names[0], push.Options{Insecure: c.Insecure, Out: io.err, Log: log})
	if err != nil {
		return err
	}
	fmt.Fprintf(io.err, "img-build: pushed %s (%d blobs uploaded, %d already there)\n", names[0], r.Uploaded, r.Skipped)
	return nil
}
