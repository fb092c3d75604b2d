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
// A base no build in the store used yet is unpacked (`fs-layer unpack`)
// while the COPY steps before the first RUN work.
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
//
// Each verb has its file (build.go, push.go); the work is done in the
// packages below: dockerfile (reading the file), build (the steps, the
// cache) and push (the registry).
package main

import (
	"io"
	"os"

	"ctrkit/internal/cli"
)

type CLI struct {
	cli.Globals
	Build BuildCmd `cmd:"" default:"withargs" help:"Build an image from a Dockerfile (the default)."`
	Push  PushCmd  `cmd:"" help:"Upload an image from the store to a registry, skipping the blobs it has."`
}

// stdio is where a verb reads and writes: the process's own streams, or a
// test's buffers.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

func main() {
	os.Exit(cli.Status("img-build", os.Stderr, run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)))
}

// run is the whole command but the exit: it parses args and runs the verb
// with these streams, so tests call it as a shell would the binary.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var c CLI
	return cli.Main("img-build", "Build container images from a Dockerfile, one cached layer per RUN, COPY and ADD, and push them to a registry.", &c, args, stdout, stderr, &c.Globals, &stdio{stdin, stdout, stderr})
}
