// Package build turns a Dockerfile into an image in ctrkit's store, one
// step at a time, with a cache.
//
// Each instruction is a step. FROM starts from a base image's manifest
// (or nothing, for scratch). ENV, WORKDIR, USER, LABEL, EXPOSE, CMD,
// ENTRYPOINT, VOLUME, SHELL, STOPSIGNAL only change the image config and
// add a history entry marked empty_layer (config.go). COPY and ADD write a
// layer tar of the files themselves (copystep.go, copy.go). RUN runs the
// command in a container made of the layers so far, by executing ctrkit's
// own commands, as a learner could by hand (run.go, exec.go):
//
//	fs-layer mount --name ID IMAGE-SO-FAR     # overlay: layers + empty upper dir
//	ns-enter --spec config.json               # the command, in that rootfs
//	fs-layer diff ID -o layer.tar             # the upper dir, as a layer
//	fs-layer rm ID
//
// On a base no build in the store has used yet, `fs-layer unpack BASE`
// runs while the COPY steps before the first RUN work (unpackBase).
//
// A step that makes a layer is cached (cache.go). The image is written to
// the store (config, manifest, tag) at the end (image.go).
//
// Where each part lives:
//
//	build.go     Build: split the Dockerfile into stages, run the ones the target needs
//	context.go   Load: the Dockerfile, .dockerignore and --build-arg of a build
//	stage.go     FROM, and what a stage carries (config, layers, key, shell, ARGs)
//	args.go      ARG, before and after FROM, and --build-arg
//	config.go    the steps that only change the config (ENV … STOPSIGNAL)
//	copystep.go  COPY and ADD: sources, flags, cache key, the layer
//	copy.go      which files a COPY takes and how they go into the tar
//	run.go       RUN, heredocs included
//	exec.go      the sibling commands RUN and COPY --from execute
//	cache.go     the cache keys and entries
//	layer.go     writing a layer blob, and the index of the files so far
//	image.go     writing the config and manifest
//	ignore.go    .dockerignore
package build

import (
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"strings"

	"ctrkit/img-build/dockerfile"
	"ctrkit/internal/explain"
	"ctrkit/internal/lease"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Options describe one build.
type Options struct {
	Root, State string // the ctrkit root (image store) and state dir, handed to the siblings
	Context     string // the build context directory
	Dockerfile  *dockerfile.Dockerfile
	Ignore      *Ignore           // .dockerignore, may be nil
	Tags        []string          // full names to tag the result with
	BuildArgs   map[string]string // --build-arg
	NoCache     bool
	Target      string // the stage to build (default: the last)
	Network     string // none (default) or host, for RUN
	Out         io.Writer
	Log         *explain.Log
	Exec        Executor
}

// Result is the built image.
type Result struct {
	Manifest v1.Descriptor
	Config   *v1.ConfigFile
	Steps    int
	Cached   int
	Ran      int
}

type builder struct {
	opt    Options
	images *store.Store
	cache  Cache
	global map[string]string // ARGs before the first FROM
	used   map[string]bool   // build args that were used
	stages []*stage
	names  map[string]int
	res    Result
	total  int
	n      int
	lease  *lease.Lease // names the temporary tags (see tempImage)
	// unpacking waits for the base's unpack started by unpackBase; nil
	// when none runs.
	unpacking func()
}

// section is one FROM and the instructions after it, up to the next FROM.
type section struct {
	name string // FROM … AS NAME, lower case; "" when unnamed
	ref  string // FROM REF
	ins  []dockerfile.Instruction
}

// Build runs the Dockerfile and returns the image it made.
func Build(opt Options) (*Result, error) {
	if opt.Exec.Bin == nil {
		return nil, errors.New("build: no executor for RUN")
	}
	images, err := store.Open(opt.Root)
	if err != nil {
		return nil, err
	}
	release, err := images.Writing()
	if err != nil {
		return nil, err
	}
	defer release()
	l, err := lease.Take(path.Join(opt.Root, "leases"), "build")
	if err != nil {
		return nil, err
	}
	defer l.Release()
	opt.Exec.Record = l.Add
	b := &builder{opt: opt, images: images, cache: Cache{Dir: path.Join(opt.Root, "build-cache")},
		global: map[string]string{}, used: map[string]bool{}, names: map[string]int{}, lease: l}
	defer b.waitUnpack()
	sections, err := b.sections()
	if err != nil {
		return nil, err
	}
	target, needed, err := b.needed(sections)
	if err != nil {
		return nil, err
	}
	for i := 0; i <= target; i++ {
		if needed[i] {
			b.total += len(sections[i].ins)
		}
	}
	b.stages = make([]*stage, len(sections))
	for i := 0; i <= target; i++ {
		if !needed[i] {
			continue
		}
		sec := sections[i]
		s, err := b.from(sec.ins[0], i, sec.name, sec.ref)
		if err != nil {
			return nil, err
		}
		b.stages[i] = s
		b.unpackBase(s, sec.ins[1:])
		for _, in := range sec.ins[1:] {
			if err := b.step(s, in); err != nil {
				return nil, err
			}
		}
	}
	for k := range opt.BuildArgs {
		if !b.used[k] {
			fmt.Fprintf(opt.Out, "img-build: warning: --build-arg %s was not consumed by any ARG\n", k)
		}
	}
	final := b.stages[target]
	desc, err := b.write(final)
	if err != nil {
		return nil, err
	}
	for _, t := range opt.Tags {
		if err := images.Tag(t, desc); err != nil {
			return nil, err
		}
		opt.Log.Step(fmt.Sprintf("rename index.json: %s=%s → %s", store.RefNameAnnotation, t, desc.Digest), "")
	}
	b.res.Manifest, b.res.Config = desc, final.cfg
	return &b.res, nil
}

// unpackBase starts unpacking the stage's base image in the background
// when a RUN will mount it after a COPY or ADD, and no build on this base
// kept its layers' file index (Cache.index): the store has likely never
// unpacked it. The COPY then reads the base's files while fs-layer
// unpacks them, instead of the RUN's mount unpacking them afterwards
// (docs/bench.md).
func (b *builder) unpackBase(s *stage, ins []dockerfile.Instruction) {
	if s.base == "" || !copiesBeforeRun(ins) {
		return
	}
	if !slices.ContainsFunc(s.layers, func(l Layer) bool { return !b.cache.hasIndex(l.Desc.Digest) }) {
		return
	}
	b.waitUnpack()
	b.opt.Log.Note("FROM: a RUN will mount %s and this store has not built on it yet: its layers are unpacked meanwhile", s.base)
	b.unpacking = b.opt.Exec.Unpack(s.base)
}

// copiesBeforeRun reports whether a COPY or ADD comes before the first RUN.
func copiesBeforeRun(ins []dockerfile.Instruction) bool {
	for _, in := range ins {
		switch in.Cmd {
		case "COPY", "ADD":
			return true
		case "RUN":
			return false
		}
	}
	return false
}

// waitUnpack waits for the unpack unpackBase started, if one runs.
func (b *builder) waitUnpack() {
	if b.unpacking != nil {
		b.unpacking()
		b.unpacking = nil
	}
}

// sections splits the Dockerfile into the global ARGs (read at once) and
// the stages, and names the stages.
func (b *builder) sections() ([]section, error) {
	df := b.opt.Dockerfile
	var sections []section
	for _, in := range df.Instructions {
		if in.Cmd == "FROM" {
			sections = append(sections, section{})
		}
		if len(sections) == 0 {
			if err := b.globalArg(in); err != nil {
				return nil, err
			}
			continue
		}
		sections[len(sections)-1].ins = append(sections[len(sections)-1].ins, in)
	}
	for i := range sections {
		from := sections[i].ins[0]
		words, err := dockerfile.Words(from.Args, b.globalLookup, df.Escape)
		if err != nil {
			return nil, b.errorf(from, "%v", err)
		}
		switch {
		case len(words) == 3 && strings.EqualFold(words[1], "AS"):
			name := strings.ToLower(words[2])
			if _, dup := b.names[name]; dup {
				return nil, b.errorf(from, "stage name %q is used twice", words[2])
			}
			b.names[name] = i
			sections[i].name = name
		case len(words) != 1:
			return nil, b.errorf(from, "FROM wants IMAGE [AS NAME], got %q", from.Args)
		}
		sections[i].ref = words[0]
	}
	return sections, nil
}

// needed finds the target stage and the stages it needs: its FROM and its
// COPY --from, recursively. A stage nobody needs is not built.
func (b *builder) needed(sections []section) (int, map[int]bool, error) {
	target := len(sections) - 1
	if b.opt.Target != "" {
		t, ok := b.names[strings.ToLower(b.opt.Target)]
		if !ok {
			return 0, nil, fmt.Errorf("--target %s: no stage of that name in %s (FROM IMAGE AS NAME names one)", b.opt.Target, b.opt.Dockerfile.File)
		}
		target = t
	}
	needed := map[int]bool{}
	var need func(i int) error
	need = func(i int) error {
		if needed[i] {
			return nil
		}
		needed[i] = true
		if j, ok := b.stageRef(sections[i].ref, i); ok {
			if err := need(j); err != nil {
				return err
			}
		}
		for _, in := range sections[i].ins {
			from := in.Flags["from"]
			if in.Cmd != "COPY" || from == "" {
				continue
			}
			j, ok := b.stageRef(from, i)
			if !ok {
				if strings.ContainsAny(from, ":/") || b.inStore(from) {
					continue // an image, not a stage
				}
				return b.errorf(in, "--from=%s: no stage of that name before this one (and no image of that name in the store)", from)
			}
			if err := need(j); err != nil {
				return err
			}
		}
		return nil
	}
	return target, needed, need(target)
}

func (b *builder) errorf(in dockerfile.Instruction, format string, args ...any) error {
	return &dockerfile.Error{File: b.opt.Dockerfile.File, Line: in.Line, Msg: in.Cmd + ": " + fmt.Sprintf(format, args...)}
}

func (b *builder) inStore(ref string) bool {
	_, err := b.images.Find(ref)
	return err == nil
}

// stageRef resolves a stage name or index used in stage i.
func (b *builder) stageRef(ref string, i int) (int, bool) {
	if j, ok := b.names[strings.ToLower(ref)]; ok && j < i {
		return j, true
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < i {
		return n, true
	}
	return 0, false
}

func (b *builder) progress(text string) {
	b.n++
	b.res.Steps++
	fmt.Fprintf(b.opt.Out, "[%d/%d] %s\n", b.n, b.total, text)
}
