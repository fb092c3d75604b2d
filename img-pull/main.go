// Command img-pull downloads container images from any OCI or Docker v2
// registry into ctrkit's image store, an OCI image layout, and manages it.
//
// Synopsis:
//
//	img-pull [--platform OS/ARCH[/VARIANT]] [--username U --password-stdin] [--insecure] REF
//	img-pull ls
//	img-pull inspect REF
//	img-pull verify [REF]
//	img-pull rm REF
//	img-pull gc [--dry-run]
//	img-pull import ROOTFS.tar [MORE.tar…] NAME[:TAG]
//
// REF is a Docker-style reference: alpine, alpine:3.20, library/alpine,
// ghcr.io/owner/repo:tag, 127.0.0.1:5000/demo@sha256:…; without a host it
// names Docker Hub (docker.io/library/alpine:latest).
//
// Output: in a pipe (stdout not a terminal, or a document on stdin) the
// pull prints an OCI runtime spec made from the image config, for fs-layer
// to continue; on a terminal it prints the manifest digest. --print
// chooses explicitly.
//
// Options:
//
//	--platform     pick this platform from a manifest list (default: the host's)
//	--insecure     allow plain HTTP and unverified TLS (localhost needs no flag)
//	--explain      show the registry conversation, with curl equivalents
//	--root DIR     the store is DIR/oci (CTRKIT_ROOT, /var/lib/ctrkit)
package main

import (
	"io"
	"os"

	"ctrkit/internal/cli"
)

type CLI struct {
	cli.Globals
	Pull    PullCmd    `cmd:"" default:"withargs" help:"Pull an image into the store (the default)."`
	Ls      LsCmd      `cmd:"" help:"List the images in the store."`
	Inspect InspectCmd `cmd:"" help:"Print an image's manifest, config and layers as JSON."`
	Verify  VerifyCmd  `cmd:"" help:"Check every blob of the store (or of one image) against its size and digest."`
	Rm      RmCmd      `cmd:"" help:"Remove an image's name from the store (img-pull gc frees its blobs)."`
	Gc      GcCmd      `cmd:"" help:"Delete the blobs no image refers to, and leftovers of killed pulls."`
	Import  ImportCmd  `cmd:"" help:"Make an image from root filesystem tarballs, one layer each (like docker import)."`
}

// run is img-pull with its arguments and streams: main only exits, tests
// call run (help and usage go to the given writers).
func run(args []string, stdout, stderr io.Writer) error {
	var c CLI
	return cli.Main("img-pull", "Pull container images from a registry into a local OCI image layout: manifests, configs and layers, each checked by its digest.", &c, args, stdout, stderr, &c.Globals)
}

func main() {
	os.Exit(cli.Status("img-pull", os.Stderr, run(os.Args[1:], os.Stdout, os.Stderr)))
}
