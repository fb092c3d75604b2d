// Command fs-layer stacks an image's layers into a container's root
// filesystem with overlayfs, and shows, diffs and commits what the
// container changed.
//
// Synopsis:
//
//	fs-layer mount IMAGE [--name ID] [-v NAME:/PATH] [-v /HOST:/PATH[:ro]] [--tmpfs /PATH] [--read-only]
//	img-pull IMAGE | fs-layer mount [--name ID] [-v …] | … | ns-enter
//	fs-layer umount ID | rm ID… | ls
//	fs-layer which ID PATH | tree IMAGE [--mermaid] | unpack IMAGE
//	fs-layer diff ID > layer.tar | commit ID NAME:TAG
//	fs-layer volume create|ls|rm|inspect NAME
//	fs-layer gc [--dry-run]
//
// Options:
//
//	--name ID      the container id (default: the document's, or a new one)
//	-v SPEC        a named volume or a bind mount, written into the spec's mounts
//	--tmpfs PATH   a tmpfs at PATH
//	--read-only    the root filesystem is mounted read-only
//	--driver D     overlay, copy, or auto (overlay, else copy with a notice)
//	--explain      print each kernel call and its shell equivalent on stderr
//
// Each verb has its file (mount.go, umount.go, rm.go, …); they parse flags
// and print. The work is done by the packages below: layer (the layer
// store, unpacking, diff, commit), overlay (a container's root filesystem,
// which layer provides a path), volume (named volumes, -v and --tmpfs) and
// user (an image USER by name, through the image's /etc/passwd).
package main

import (
	"io"
	"os"

	"ctrkit/internal/cli"
)

type CLI struct {
	cli.Globals
	Mount  MountCmd  `cmd:"" help:"Mount an image's layers as a container's root filesystem (overlayfs) and print the mount point, or fill in root.path in a pipe."`
	Umount UmountCmd `cmd:"" help:"Unmount a container's root filesystem; its upper layer stays."`
	Rm     RmCmd     `cmd:"" help:"Unmount and delete a container's root filesystem and upper layer."`
	Ls     LsCmd     `cmd:"" help:"List containers, their images and mounts."`
	Which  WhichCmd  `cmd:"" help:"Say which layer of a container provides a path (copy-on-write, visible)."`
	Tree   TreeCmd   `cmd:"" help:"Draw an image's layer stack (text, or Mermaid with --mermaid)."`
	Unpack UnpackCmd `cmd:"" help:"Unpack an image's layers into the layer store, and print their directories."`
	Diff   DiffCmd   `cmd:"" help:"Write what a container changed as an OCI layer tar (whiteouts as .wh. entries)."`
	Commit CommitCmd `cmd:"" help:"Store a container's changes as a new image, like docker commit."`
	Volume VolumeCmd `cmd:"" help:"Manage named volumes (ROOT/volumes/NAME/_data)."`
	Gc     GcCmd     `cmd:"" help:"Remove what killed unpacks left, layers no image or container uses, and dangling short links; repair missing ones."`
}

// Stdio are the streams a verb reads and writes: stdin may carry the pipe
// document (a file, so spec.FromStdin can tell a pipe from a terminal),
// stdout carries data only, stderr the rest.
type Stdio struct {
	Stdin          *os.File
	Stdout, Stderr io.Writer
}

// run is fs-layer with its arguments and streams: main only exits, tests
// call run.
func run(args []string, stdin *os.File, stdout, stderr io.Writer) error {
	var c CLI
	return cli.Main("fs-layer", "Stack an image's layers into a container's root filesystem with overlayfs: read-only layers, a read-write layer on top, copy-on-write.", &c, args, stdout, stderr,
		&c.Globals, &Stdio{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

func main() {
	os.Exit(cli.Status("fs-layer", os.Stderr, run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)))
}
