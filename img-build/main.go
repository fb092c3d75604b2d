// Command img-build builds container images from a Dockerfile into ctrkit's
// image store, with a per-instruction layer cache, and pushes them to a
// registry.
//
// Synopsis:
//
//	img-build -t NAME:TAG [-f Dockerfile] [--build-arg K=V] [--no-cache] [--target STAGE] [--network none|host] [--push] CONTEXT
//	img-build push NAME:TAG [REGISTRY/NAME:TAG]
//
// A RUN step executes the sibling commands, as a learner could by hand:
// `fs-layer mount` of the layers so far, `ns-enter --spec` of the command
// in that root filesystem, `fs-layer diff` of what it changed, `fs-layer rm`.
//
// Options:
//
//	-t NAME:TAG      tag the image (repeatable)
//	-f FILE          the Dockerfile (default: CONTEXT/Dockerfile)
//	--build-arg K=V  set an ARG
//	--no-cache       run every step
//	--target STAGE   build that stage of a multi-stage Dockerfile
//	--network MODE   RUN without a network (none, the default) or with the host's
//	--explain        each cache key, why it hit or missed, and every command run
package main

import (
	"ctrkit/internal/cli"

	"github.com/alecthomas/kong"
)

type CLI struct {
	cli.Globals
	Build BuildCmd `cmd:"" default:"withargs" help:"Build an image from a Dockerfile (the default)."`
	Push  PushCmd  `cmd:"" help:"Upload an image from the store to a registry, skipping the blobs it has."`
}

func main() {
	var c CLI
	ctx := kong.Parse(&c, kong.Name("img-build"),
		kong.Description("Build container images from a Dockerfile, one cached layer per RUN, COPY and ADD, and push them to a registry."),
		kong.UsageOnError())
	cli.Exit(ctx, ctx.Run(&c.Globals))
}
