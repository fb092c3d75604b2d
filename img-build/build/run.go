package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"ctrkit/img-build/dockerfile"
	"ctrkit/internal/exitcode"
	"ctrkit/internal/explain"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// heredocDir is where a RUN's heredoc script with a #! line is put, on
// the container's /dev (a tmpfs, so it never lands in the layer), as
// BuildKit does.
const heredocDir = "/dev/pipes"

// runCommand is the argv of a RUN, and the files it needs bound into the
// container. A RUN with heredocs follows BuildKit's rule:
//
//   - RUN <<EOF alone: the document is the script. One starting with #! is
//     bound at /dev/pipes/EOF and executed (so #!/usr/bin/python works);
//     any other is handed to the shell: sh -c 'DOCUMENT';
//   - RUN cat <<EOF >file (more than the word): the line and the documents
//     are handed to the shell together, which reads the heredocs itself.
func (s *stage) runCommand(in dockerfile.Instruction) (argv []string, scripts map[string]string) {
	if len(in.Heredocs) == 0 || in.IsJSON {
		return s.command(in), nil
	}
	first := in.Heredocs[0]
	if h := parser.MustParseHeredoc(in.Args); h != nil && len(in.Heredocs) == 1 {
		if strings.HasPrefix(first.Content, "#!") {
			p := path.Join(heredocDir, first.Name)
			return []string{p}, map[string]string{p: first.Content}
		}
		return append(append([]string(nil), s.shell...), first.Content), nil
	}
	full := in.Args
	for _, h := range in.Heredocs {
		full += "\n" + h.Content + h.Name
	}
	return append(append([]string(nil), s.shell...), full), nil
}

// run runs RUN: in a container of the layers so far (exec.go), whose
// changes become the step's layer. Its cache key takes the command, the
// ARGs in effect and a non-default network.
func (b *builder) run(s *stage, in dockerfile.Instruction) error {
	argv, scripts := s.runCommand(in)
	step := "RUN " + jsonWords(argv)
	var names []string
	for p := range scripts {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		step += " " + p + "=" + jsonWords([]string{scripts[p]})
	}
	b.progress("RUN " + in.Args)
	var args []string
	for k, v := range s.args {
		args = append(args, k+"="+v)
	}
	sort.Strings(args)
	extra := ""
	if len(args) > 0 {
		extra = "args " + strings.Join(args, " ")
	}
	network := b.opt.Network
	if v := in.Flags["network"]; v != "" {
		network = v
	}
	if network != "" && network != "none" {
		extra += " network " + network
	}
	key := Key(s.key, step, extra)
	if b.cached(s, key, step, extra) {
		return nil
	}
	l, err := b.runLayer(s, in, RunSpec{Args: argv, Env: s.runEnv(), Cwd: s.cfg.Config.WorkingDir,
		User: s.cfg.Config.User, Network: network, Files: scripts})
	if err != nil {
		return err
	}
	fmt.Fprintf(b.opt.Out, "  layer %s\n", short(l.Desc.Digest.String()))
	return b.store(s, key, step, extra, l, "RUN "+explain.Join(argv))
}

// runLayer runs r on the image so far and stores what it changed as a
// layer blob.
func (b *builder) runLayer(s *stage, in dockerfile.Instruction, r RunSpec) (Layer, error) {
	tmp, err := b.tempImage(s)
	if err != nil {
		return Layer{}, err
	}
	defer b.untag(tmp)
	tarFile, err := os.CreateTemp(b.images.Root+"/oci.tmp", "run-*.tar")
	if err != nil {
		return Layer{}, err
	}
	tarFile.Close()
	defer os.Remove(tarFile.Name())
	b.res.Ran++
	r.Image, r.Output, r.Tmp = tmp, tarFile.Name(), b.images.Root+"/oci.tmp"
	b.waitUnpack() // its mount would unpack the same layers again
	if err := b.opt.Exec.Run(r); err != nil {
		var ee *exitcode.Error
		if errors.As(err, &ee) {
			// The build exits with the RUN command's status.
			return Layer{}, &exitcode.Error{Code: ee.Code, Err: b.errorf(in, "%s: exit status %d", in.Args, ee.Code)}
		}
		return Layer{}, b.errorf(in, "%v", err)
	}
	f, err := os.Open(tarFile.Name())
	if err != nil {
		return Layer{}, err
	}
	defer f.Close()
	w, err := newLayerWriter(b.images.Root + "/oci.tmp")
	if err != nil {
		return Layer{}, err
	}
	if _, err := io.Copy(w.raw, f); err != nil {
		w.discard()
		return Layer{}, err
	}
	return w.finish(b.images, s.layerType, true)
}
