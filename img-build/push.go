package main

import (
	"fmt"

	"ctrkit/img-build/push"
	"ctrkit/internal/cli"
	"ctrkit/internal/store"
)

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

func (c *PushCmd) Run(g *cli.Globals, io *stdio) error {
	images, err := store.Open(g.Root)
	if err != nil {
		return err
	}
	dest := c.Dest
	if dest == "" {
		dest = c.Image
	}
	res, err := push.Push(images, c.Image, dest, push.Options{Insecure: c.Insecure, Out: io.err, Log: g.Log("img-build", io.err)})
	if err != nil {
		return err
	}
	fmt.Fprintf(io.err, "img-build: pushed %s: %d blobs uploaded, %d already there\n", dest, res.Uploaded, res.Skipped)
	fmt.Fprintln(io.out, res.Digest)
	return nil
}
