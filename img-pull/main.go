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

	"golang.org/x/term"
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

// Stdio are the streams a verb reads and writes: stdin may carry the pipe
// document (a file, so spec.FromStdin can tell a pipe from a terminal) or
// a password (--password-stdin), stdout carries data only, stderr the rest.
type Stdio struct {
	Stdin          *os.File
	Stdout, Stderr io.Writer
}

// terminal tells whether w is a terminal: a pull prints a digest there,
// the runtime spec into a pipe, and progress bars only on one.
func terminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// run is img-pull with its arguments and streams: main only exits, tests
// call run.
func run(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	var c CLI
	return cli.Main("img-pull", "Pull container images from a registry into a local OCI image layout: manifests, configs and layers, each checked by its digest.", &c, args, stdout, stderr,
		&c.Globals, &Stdio{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func main() {
	os.Exit(cli.Status("img-pull", os.Stderr, run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)))
}
