package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"ctrkit/img-build/dockerfile"
	"ctrkit/internal/explain"
	"ctrkit/internal/store"

	"github.com/google/go-cmp/cmp"
)

// These tests build real images into a store under t.TempDir(), without
// root: FROM scratch, the config steps, COPY and ADD. A RUN needs
// fs-layer and ns-enter (and root); the bats suite runs those, here a RUN
// only shows it reports a missing sibling.

// testBuild is one build of dockerfile src in a context made of files.
type testBuild struct {
	t        *testing.T
	root     string // the ctrkit root (store, cache)
	ctx      string
	out, log bytes.Buffer
}

func newTestBuild(t *testing.T, files map[string]string) *testBuild {
	tb := &testBuild{t: t, root: t.TempDir(), ctx: t.TempDir()}
	for name, data := range files {
		p := filepath.Join(tb.ctx, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return tb
}

func (tb *testBuild) build(src string, edit func(*Options)) (*Result, error) {
	tb.t.Helper()
	if err := os.WriteFile(filepath.Join(tb.ctx, "Dockerfile"), []byte(src), 0o644); err != nil {
		tb.t.Fatal(err)
	}
	dir, df, ign, err := Load(tb.ctx, "")
	if err != nil {
		return nil, err
	}
	tb.out.Reset()
	tb.log.Reset()
	log := explain.New("img-build", &tb.log, true)
	opt := Options{Root: tb.root, State: tb.t.TempDir(), Context: dir, Dockerfile: df, Ignore: ign,
		Tags: []string{"docker.io/library/t:1"}, Out: &tb.out, Log: log,
		Exec: Executor{Bin: func(name string) string { return filepath.Join(tb.root, "no-such-dir", name) }, Out: &tb.out, Log: log}}
	if edit != nil {
		edit(&opt)
	}
	return Build(opt)
}

// layerFiles reads the layer blob d of the store at root: name → content
// (or link target), with "mode uid:gid" for each.
func layerFiles(t *testing.T, root string, l Layer) map[string]string {
	t.Helper()
	images, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(images.BlobPath(l.Desc.Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out[h.Name] = fmt.Sprintf("%s|%s|%o %d:%d", data, h.Linkname, h.Mode&0o777, h.Uid, h.Gid)
	}
}

func tarGz(t *testing.T, files map[string]string) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, data := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write([]byte(data))
	}
	tw.Close()
	zw.Close()
	return buf.String()
}

const fullDockerfile = `# syntax=docker/dockerfile:1
ARG BASE=scratch
FROM ${BASE} AS base
ARG WHO=world
ENV APP=/app MSG="hello $WHO"
ENV OLD old form
WORKDIR $APP
WORKDIR sub
LABEL title="demo image" version=1
MAINTAINER someone
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME ["/data"]
VOLUME /cache
STOPSIGNAL SIGTERM
HEALTHCHECK CMD true
CMD ["cat", "/app/hello.txt"]
SHELL ["/bin/ash", "-c"]
ENTRYPOINT echo
COPY hello.txt conf ./
COPY --chown=7:8 --chmod=0700 hello.txt /owned
COPY *.md /docs/
ADD files.tar.gz /opt/
COPY <<EOF <<'RAW' /etc/hd/
hello $WHO
EOF
kept $WHO
RAW
`

func TestBuildScratch(t *testing.T) {
	tb := newTestBuild(t, map[string]string{
		"hello.txt": "hello\n", "conf/a.conf": "a\n", "conf/debug.log": "no\n",
		"a.md": "A", "b.md": "B", "files.tar.gz": "", ".dockerignore": "**/*.log\n",
	})
	os.WriteFile(filepath.Join(tb.ctx, "files.tar.gz"), []byte(tarGz(t, map[string]string{"x": "inside"})), 0o644)
	res, err := tb.build(fullDockerfile, func(o *Options) { o.BuildArgs = map[string]string{"WHO": "you", "UNUSED": "1"} })
	if err != nil {
		t.Fatalf("Build: %v\n%s", err, tb.out.String())
	}
	c := res.Config.Config
	type cfg struct {
		Env, Cmd, Entrypoint, Shell []string
		WorkingDir, User, Stop      string
		Labels                      map[string]string
		Ports, Volumes              int
	}
	got := cfg{c.Env, c.Cmd, c.Entrypoint, c.Shell, c.WorkingDir, c.User, c.StopSignal, c.Labels, len(c.ExposedPorts), len(c.Volumes)}
	want := cfg{
		Env: []string{defaultPath, "APP=/app", "MSG=hello you", "OLD=old form"},
		Cmd: []string{"cat", "/app/hello.txt"}, Entrypoint: []string{"/bin/ash", "-c", "echo"}, Shell: []string{"/bin/ash", "-c"},
		WorkingDir: "/app/sub", User: "1000:1000", Stop: "SIGTERM",
		Labels: map[string]string{"title": "demo image", "version": "1", "maintainer": "someone"}, Ports: 2, Volumes: 2,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Build() config mismatch (-want +got):\n%s", d)
	}
	if res.Steps != 22 || res.Cached != 0 || res.Ran != 0 {
		t.Errorf("Build() = %d steps, %d cached, %d ran; want 22, 0, 0", res.Steps, res.Cached, res.Ran)
	}
	if !strings.Contains(tb.out.String(), "--build-arg UNUSED was not consumed") {
		t.Errorf("Build() output lacks the warning for --build-arg UNUSED:\n%s", tb.out.String())
	}
	if !strings.Contains(tb.out.String(), "HEALTHCHECK is not supported") {
		t.Errorf("Build() output lacks the HEALTHCHECK note:\n%s", tb.out.String())
	}
	images, _ := store.Open(tb.root)
	img, err := images.Resolve("t:1")
	if err != nil {
		t.Fatalf("Resolve(t:1) after Build: %v", err)
	}
	if img.Descriptor.Digest != res.Manifest.Digest || len(img.Manifest.Layers) != 5 {
		t.Fatalf("t:1 = %s with %d layers, want %s with 5", img.Descriptor.Digest, len(img.Manifest.Layers), res.Manifest.Digest)
	}
	var layers []map[string]string
	for i, l := range img.Manifest.Layers {
		layers = append(layers, layerFiles(t, tb.root, Layer{Desc: l, DiffID: img.Config.RootFS.DiffIDs[i]}))
	}
	wantLayers := []map[string]string{
		{"app/": "||755 0:0", "app/sub/": "||755 0:0", "app/sub/hello.txt": "hello\n||644 0:0", "app/sub/a.conf": "a\n||644 0:0"},
		{"owned": "hello\n||700 7:8"},
		{"docs/": "||755 0:0", "docs/a.md": "A||644 0:0", "docs/b.md": "B||644 0:0"},
		{"opt/": "||755 0:0", "opt/x": "inside||600 0:0"},
		{"etc/": "||755 0:0", "etc/hd/": "||755 0:0", "etc/hd/EOF": "hello you\n||644 0:0", "etc/hd/RAW": "kept $WHO\n||644 0:0"},
	}
	if d := cmp.Diff(wantLayers, layers); d != "" {
		t.Errorf("Build() layers mismatch (-want +got):\n%s", d)
	}

	// Again: every layer step comes from the cache, and the image is the same.
	again, err := tb.build(fullDockerfile, func(o *Options) { o.BuildArgs = map[string]string{"WHO": "you"} })
	if err != nil {
		t.Fatal(err)
	}
	if again.Cached != 5 || again.Manifest.Digest != res.Manifest.Digest {
		t.Errorf("Build() again = %d cached, %s; want 5 cached, %s", again.Cached, again.Manifest.Digest, res.Manifest.Digest)
	}
	// Another WHO: the heredoc's content changes, so its COPY misses and says why.
	if _, err := tb.build(fullDockerfile, func(o *Options) { o.BuildArgs = map[string]string{"WHO": "me"} }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tb.log.String(), "an earlier step changed") {
		t.Errorf("Build() with another ARG: the explain log does not say why steps missed:\n%s", tb.log.String())
	}
	// --no-cache: nothing from the cache, the same image.
	nc, err := tb.build(fullDockerfile, func(o *Options) { o.BuildArgs = map[string]string{"WHO": "you"}; o.NoCache = true })
	if err != nil {
		t.Fatal(err)
	}
	if nc.Cached != 0 || !strings.Contains(tb.log.String(), "--no-cache") {
		t.Errorf("Build(--no-cache) = %d cached, want 0 and the reason in the log", nc.Cached)
	}
}

func TestBuildStages(t *testing.T) {
	tb := newTestBuild(t, map[string]string{"a": "A", "b": "B"})
	src := "FROM scratch AS one\nCOPY a /a\nFROM one AS two\nCOPY b /b\nFROM scratch AS unused\nCOPY missing /\nFROM 1\nENV X=1\n"
	res, err := tb.build(src, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if len(res.Config.RootFS.DiffIDs) != 2 {
		t.Errorf("Build(FROM 1) = %d layers, want 2 (stage two's)", len(res.Config.RootFS.DiffIDs))
	}
	res, err = tb.build(src, func(o *Options) { o.Target = "ONE" })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Config.RootFS.DiffIDs) != 1 || res.Steps != 2 {
		t.Errorf("Build(--target one) = %d layers in %d steps, want 1 in 2", len(res.Config.RootFS.DiffIDs), res.Steps)
	}
	if _, err := tb.build(src, func(o *Options) { o.Target = "unused" }); err == nil || !strings.Contains(err.Error(), `source "missing": no such file`) {
		t.Errorf("Build(--target unused) = %v, want the missing source", err)
	}
}

func TestBuildErrors(t *testing.T) {
	tb := newTestBuild(t, map[string]string{"a": "A", "notes.log": "x", ".dockerignore": "*.log\n"})
	for _, tc := range []struct{ src, target, want string }{
		{"FROM scratch AS x\nFROM scratch AS X\n", "", `Dockerfile:2: FROM: stage name "X" is used twice`},
		{"FROM scratch AS\n", "", "Dockerfile:1: FROM: FROM wants IMAGE [AS NAME]"},
		{"FROM scratch\n", "nope", "--target nope: no stage of that name"},
		{"FROM scratch\nCOPY --from=nowhere /a /b\n", "", "Dockerfile:2: COPY: --from=nowhere: no stage of that name"},
		{"FROM scratch\nEXPOSE 80/tcpx\n", "", `Dockerfile:2: EXPOSE: "80/tcpx": want PORT`},
		{"FROM scratch\nCOPY --chmod=9 a /\n", "", "--chmod=9: want an octal mode"},
		{"FROM scratch\nCOPY --chown=nobody a /\n", "", `no user "nobody" in the image's /etc/passwd`},
		{"FROM scratch\nADD https://example.com/x /\n", "", "ADD from a URL is not supported"},
		{"FROM scratch\nCOPY a\n", "", `want SOURCE… DEST, got "a"`},
		{"FROM scratch\nCOPY notes.log /\n", "", "excluded by .dockerignore"},
		{"FROM scratch\nCOPY *.nothing /\n", "", "no such file matches the pattern"},
		{"FROM scratch\nENV A\n", "", "ENV must have two arguments"},
		{"FROM scratch\nENV =x\n", "", `"=x": want KEY=VALUE`},
		{"FROM scratch\nARG =x\n", "", `"=x": want NAME or NAME=DEFAULT`},
		{"FROM scratch\nWORKDIR ${X\n", "", "bad substitution"},
		{"FROM scratch\nRUN true\n", "", "Dockerfile:2: RUN: fs-layer mount"},
		{"FROM no.such.registry.invalid/x\n", "", "Dockerfile:1: FROM: img-pull no.such.registry.invalid/x"},
	} {
		_, err := tb.build(tc.src, func(o *Options) { o.Target = tc.target })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Build(%q) = %v, want an error containing %q", tc.src, err, tc.want)
		}
	}
	images, _ := store.Open(tb.root)
	if es, _ := images.List(); len(es) != 0 {
		t.Errorf("after failed builds the store names %v, want nothing (no temporary tag left)", es)
	}
	if _, err := Build(Options{Root: tb.root}); err == nil {
		t.Errorf("Build without an executor = nil error, want one")
	}
}

func TestRunCommand(t *testing.T) {
	s := &stage{shell: []string{"/bin/sh", "-c"}}
	for _, tc := range []struct {
		in      dockerfile.Instruction
		argv    []string
		scripts map[string]string
	}{
		{dockerfile.Instruction{Args: "echo hi"}, []string{"/bin/sh", "-c", "echo hi"}, nil},
		{dockerfile.Instruction{Args: `["echo", "hi"]`, IsJSON: true, JSON: []string{"echo", "hi"}}, []string{"echo", "hi"}, nil},
		{dockerfile.Instruction{Args: "<<EOF", Heredocs: []dockerfile.Heredoc{{Name: "EOF", Content: "echo a\necho b\n"}}},
			[]string{"/bin/sh", "-c", "echo a\necho b\n"}, nil},
		{dockerfile.Instruction{Args: "<<EOF", Heredocs: []dockerfile.Heredoc{{Name: "EOF", Content: "#!/usr/bin/env python3\nprint(1)\n"}}},
			[]string{"/dev/pipes/EOF"}, map[string]string{"/dev/pipes/EOF": "#!/usr/bin/env python3\nprint(1)\n"}},
		{dockerfile.Instruction{Args: "cat <<A >/a", Heredocs: []dockerfile.Heredoc{{Name: "A", Content: "x\n"}}},
			[]string{"/bin/sh", "-c", "cat <<A >/a\nx\nA"}, nil},
	} {
		argv, scripts := s.runCommand(tc.in)
		if d := cmp.Diff(tc.argv, argv); d != "" {
			t.Errorf("runCommand(%q) argv mismatch (-want +got):\n%s", tc.in.Args, d)
		}
		if d := cmp.Diff(tc.scripts, scripts); d != "" {
			t.Errorf("runCommand(%q) scripts mismatch (-want +got):\n%s", tc.in.Args, d)
		}
	}
}

func TestParseBuildArgs(t *testing.T) {
	env := func(k string) (string, bool) { return map[string]string{"HOME": "/root"}[k], k == "HOME" }
	got, err := ParseBuildArgs([]string{"A=1", "B=", "HOME"}, env)
	if d := cmp.Diff(map[string]string{"A": "1", "B": "", "HOME": "/root"}, got); err != nil || d != "" {
		t.Errorf("ParseBuildArgs = %v, %v; mismatch (-want +got):\n%s", got, err, d)
	}
	if _, err := ParseBuildArgs([]string{"UNSET_HERE"}, env); err == nil || !strings.Contains(err.Error(), "--build-arg UNSET_HERE: no value") {
		t.Errorf("ParseBuildArgs(UNSET_HERE) = %v, want no value", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, _, _, err := Load(dir, ""); err == nil || !strings.Contains(err.Error(), "open the Dockerfile") {
		t.Errorf("Load(no Dockerfile) = %v, want open the Dockerfile", err)
	}
	os.WriteFile(filepath.Join(dir, "other"), []byte("FROM scratch\n"), 0o644)
	if _, df, ign, err := Load(dir, filepath.Join(dir, "other")); err != nil || len(df.Instructions) != 1 || ign != nil {
		t.Errorf("Load(-f other) = %v, %v, %v; want 1 instruction, no .dockerignore", df, ign, err)
	}
	os.Mkdir(filepath.Join(dir, ".dockerignore"), 0o755)
	if _, _, _, err := Load(dir, filepath.Join(dir, "other")); err == nil || !strings.Contains(err.Error(), "read .dockerignore") {
		t.Errorf("Load(.dockerignore a directory) = %v, want read .dockerignore", err)
	}
	var perr *dockerfile.Error
	os.WriteFile(filepath.Join(dir, "bad"), []byte("FROM scratch\nRUNN x\n"), 0o644)
	if _, _, _, err := Load(dir, filepath.Join(dir, "bad")); !errors.As(err, &perr) || perr.Line != 2 {
		t.Errorf("Load(bad) = %v, want a *dockerfile.Error on line 2", err)
	}
}

// A RUN after a COPY on a base this store never built on: the base is
// unpacked (fs-layer unpack) while the COPY runs, and the RUN's mount
// waits for it. A fake fs-layer records what it is asked, and its mount
// fails, ending the build there.
func TestUnpackBase(t *testing.T) {
	tb := newTestBuild(t, map[string]string{"a": "A", "b": "B"})
	if _, err := tb.build("FROM scratch\nCOPY b /b\n", func(o *Options) { o.Tags = []string{"docker.io/library/base:1"} }); err != nil {
		t.Fatal(err)
	}
	bin, calls := t.TempDir(), filepath.Join(t.TempDir(), "calls")
	fake := "#!/bin/sh\necho \"$1 start\" >>" + calls + "\n[ \"$1\" != unpack ] || sleep 0.2\necho \"$1 end\" >>" + calls + "\n[ \"$1\" != mount ]\n"
	if err := os.WriteFile(filepath.Join(bin, "fs-layer"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	siblings := func(o *Options) { o.Exec.Bin = func(name string) string { return filepath.Join(bin, name) } }
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"first build on the base", "FROM base:1\nCOPY a /a\nRUN true\n",
			[]string{"unpack start", "unpack end", "mount start", "mount end", "rm start", "rm end"}},
		// The first build kept the base's file index: the store has built on it.
		{"second build on the base", "FROM base:1\nCOPY a /a\nRUN true\n",
			[]string{"mount start", "mount end", "rm start", "rm end"}},
		// Nothing to overlap: the RUN's mount unpacks the layers itself.
		{"RUN first", "FROM base:1\nRUN true\nCOPY a /a\n",
			[]string{"mount start", "mount end", "rm start", "rm end"}},
	} {
		if tc.name == "RUN first" {
			tb.root = t.TempDir() // a new store: no index kept
			if _, err := tb.build("FROM scratch\nCOPY b /b\n", func(o *Options) { o.Tags = []string{"docker.io/library/base:1"} }); err != nil {
				t.Fatal(err)
			}
		}
		os.Remove(calls)
		if _, err := tb.build(tc.src, siblings); err == nil || !strings.Contains(err.Error(), "RUN: fs-layer mount") {
			t.Fatalf("%s: Build = %v, want the fake mount's failure", tc.name, err)
		}
		data, _ := os.ReadFile(calls)
		if got := strings.Split(strings.TrimSpace(string(data)), "\n"); !slices.Equal(got, tc.want) {
			t.Errorf("%s: fs-layer was called %q, want %q", tc.name, got, tc.want)
		}
	}
}
