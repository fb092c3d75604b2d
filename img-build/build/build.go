// Package build turns a Dockerfile into an image in ctrkit's store, one
// step at a time, with a cache.
//
// Each instruction is a step. FROM starts from a base image's manifest
// (or nothing, for scratch). ENV, WORKDIR, USER, LABEL, EXPOSE, CMD,
// ENTRYPOINT, VOLUME, SHELL, STOPSIGNAL only change the image config and
// add a history entry marked empty_layer. COPY and ADD write a layer tar of
// the files themselves. RUN runs the command in a container made of the
// layers so far, by executing ctrkit's own commands, as a learner could by
// hand:
//
//	fs-layer mount --name ID IMAGE-SO-FAR     # overlay: layers + empty upper dir
//	ns-enter --spec config.json               # the command, in that rootfs
//	fs-layer diff ID -o layer.tar             # the upper dir, as a layer
//	fs-layer rm ID
//
// A step that makes a layer is cached (see cache.go). The image is written
// to the store (config, manifest, tag) at the end.
package build

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"ctrkit/img-build/dockerfile"
	"ctrkit/internal/explain"
	"ctrkit/internal/spec"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options describe one build.
type Options struct {
	Root, State string // the ctrkit root (image store) and state dir, handed to the siblings
	Context     string // the build context directory
	Dockerfile  *dockerfile.Dockerfile
	Ignore      *Ignore           // .dockerignore, may be nil
	Tag         string            // full name to tag the result with; "" for none
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

// stage is the state of one FROM … section being built.
type stage struct {
	name      string
	index     int
	cfg       *v1.ConfigFile
	manType   types.MediaType
	layerType types.MediaType
	layers    []Layer
	key       string
	shell     []string
	args      map[string]string // ARGs declared in this stage, with values
	cmdSet    bool
	created   time.Time
	ix        *fileIndex
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
}

// Build runs the Dockerfile and returns the image it made.
func Build(opt Options) (*Result, error) {
	images, err := store.Open(opt.Root)
	if err != nil {
		return nil, err
	}
	release, err := images.Writing()
	if err != nil {
		return nil, err
	}
	defer release()
	b := &builder{opt: opt, images: images, cache: Cache{Dir: path.Join(opt.Root, "build-cache")},
		global: map[string]string{}, used: map[string]bool{}, names: map[string]int{}}
	if opt.Exec.Bin == nil {
		return nil, errors.New("build: no executor for RUN")
	}
	df := opt.Dockerfile
	// Split into the global ARGs and the stages.
	var sections [][]dockerfile.Instruction
	for _, in := range df.Instructions {
		if in.Cmd == "FROM" {
			sections = append(sections, nil)
		}
		if len(sections) == 0 {
			if err := b.globalArg(in); err != nil {
				return nil, err
			}
			continue
		}
		sections[len(sections)-1] = append(sections[len(sections)-1], in)
	}
	// Stage names, and which stages the target needs.
	stageNames := make([]string, len(sections))
	fromRefs := make([]string, len(sections))
	for i, sec := range sections {
		words, err := dockerfile.Words(sec[0].Args, b.globalLookup, df.Escape)
		if err != nil {
			return nil, b.errorf(sec[0], "%v", err)
		}
		switch {
		case len(words) == 3 && strings.EqualFold(words[1], "AS"):
			stageNames[i] = strings.ToLower(words[2])
			if _, dup := b.names[stageNames[i]]; dup {
				return nil, b.errorf(sec[0], "stage name %q is used twice", words[2])
			}
			b.names[stageNames[i]] = i
		case len(words) != 1:
			return nil, b.errorf(sec[0], "FROM wants IMAGE [AS NAME], got %q", sec[0].Args)
		}
		fromRefs[i] = words[0]
	}
	target := len(sections) - 1
	if opt.Target != "" {
		t, ok := b.names[strings.ToLower(opt.Target)]
		if !ok {
			return nil, fmt.Errorf("--target %s: no stage of that name in %s (FROM IMAGE AS NAME names one)", opt.Target, df.File)
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
		if j, ok := b.stageRef(fromRefs[i], i); ok {
			if err := need(j); err != nil {
				return err
			}
		}
		for _, in := range sections[i] {
			if from := in.Flags["from"]; in.Cmd == "COPY" && from != "" {
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
		}
		return nil
	}
	if err := need(target); err != nil {
		return nil, err
	}
	for i := 0; i <= target; i++ {
		if needed[i] {
			b.total += len(sections[i])
		}
	}
	b.stages = make([]*stage, len(sections))
	for i := 0; i <= target; i++ {
		if !needed[i] {
			continue
		}
		s, err := b.from(sections[i][0], i, stageNames[i], fromRefs[i])
		if err != nil {
			return nil, err
		}
		b.stages[i] = s
		for _, in := range sections[i][1:] {
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
	if opt.Tag != "" {
		if err := images.Tag(opt.Tag, desc); err != nil {
			return nil, err
		}
		opt.Log.Step(fmt.Sprintf("rename index.json: %s=%s → %s", store.RefNameAnnotation, opt.Tag, desc.Digest), "")
	}
	b.res.Manifest, b.res.Config = desc, final.cfg
	return &b.res, nil
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

func (b *builder) globalLookup(name string) (string, bool) {
	v, ok := b.global[name]
	return v, ok
}

func (b *builder) buildArg(name string) (string, bool) {
	v, ok := b.opt.BuildArgs[name]
	if ok {
		b.used[name] = true
	}
	return v, ok
}

// argDecls reads ARG NAME[=default] … into name/value pairs; hasDefault
// says whether a default was written.
func (b *builder) argDecls(in dockerfile.Instruction, lookup dockerfile.Lookup) ([][3]string, error) {
	words, err := dockerfile.Words(in.Args, lookup, b.opt.Dockerfile.Escape)
	if err != nil {
		return nil, b.errorf(in, "%v", err)
	}
	var out [][3]string
	for _, w := range words {
		k, v, hasDef := strings.Cut(w, "=")
		if k == "" {
			return nil, b.errorf(in, "%q: want NAME or NAME=DEFAULT", w)
		}
		d := ""
		if hasDef {
			d = "="
		}
		out = append(out, [3]string{k, v, d})
	}
	return out, nil
}

func (b *builder) globalArg(in dockerfile.Instruction) error {
	if in.Cmd != "ARG" {
		return b.errorf(in, "only ARG may come before the first FROM")
	}
	decls, err := b.argDecls(in, b.globalLookup)
	if err != nil {
		return err
	}
	for _, d := range decls {
		if v, ok := b.buildArg(d[0]); ok {
			b.global[d[0]] = v
		} else if d[2] == "=" {
			b.global[d[0]] = d[1]
		} else {
			b.global[d[0]] = ""
		}
	}
	return nil
}

func (b *builder) progress(in dockerfile.Instruction, text string) {
	b.n++
	b.res.Steps++
	fmt.Fprintf(b.opt.Out, "[%d/%d] %s\n", b.n, b.total, text)
}

// from starts stage i from its base: scratch, an earlier stage, or an
// image (from the store, else pulled with img-pull).
func (b *builder) from(in dockerfile.Instruction, i int, name, ref string) (*stage, error) {
	b.progress(in, "FROM "+ref+map[bool]string{true: " AS " + name, false: ""}[name != ""])
	s := &stage{name: name, index: i, args: map[string]string{}, shell: []string{"/bin/sh", "-c"},
		manType: types.OCIManifestSchema1, layerType: types.OCILayer, ix: newFileIndex()}
	switch j, isStage := b.stageRef(ref, i); {
	case strings.EqualFold(ref, "scratch"):
		s.cfg = &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
		s.cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
		s.key = Key("", "FROM scratch")
	case isStage:
		p := b.stages[j]
		s.cfg = p.cfg.DeepCopy()
		s.manType, s.layerType = p.manType, p.layerType
		s.layers = append([]Layer(nil), p.layers...)
		s.key, s.shell, s.created = p.key, append([]string(nil), p.shell...), p.created
		b.opt.Log.Note("FROM %s: stage %d, key %s", ref, j, short(s.key))
	default:
		img, err := b.images.Resolve(ref)
		if errors.Is(err, store.ErrNotFound) {
			fmt.Fprintf(b.opt.Out, "img-build: %s is not in the store: pulling it\n", ref)
			if perr := b.opt.Exec.Pull(ref); perr != nil {
				return nil, b.errorf(in, "%v", perr)
			}
			img, err = b.images.Resolve(ref)
		}
		if err != nil {
			return nil, b.errorf(in, "%v", err)
		}
		s.cfg = img.Config.DeepCopy()
		if img.Manifest.MediaType != "" {
			s.manType = img.Manifest.MediaType
		}
		if s.manType == types.DockerManifestSchema2 {
			s.layerType = types.DockerLayer
		}
		if len(img.Manifest.Layers) != len(s.cfg.RootFS.DiffIDs) {
			return nil, b.errorf(in, "image %s: %d layers but %d diff ids in its config", ref, len(img.Manifest.Layers), len(s.cfg.RootFS.DiffIDs))
		}
		for k, l := range img.Manifest.Layers {
			s.layers = append(s.layers, Layer{Desc: l, DiffID: s.cfg.RootFS.DiffIDs[k]})
		}
		s.key = Key("", "FROM", img.Descriptor.Digest.String())
		s.created = s.cfg.Created.Time
		b.opt.Log.Note("FROM %s: manifest %s, %d layers; key %s = sha256(manifest digest)", ref, img.Descriptor.Digest, len(s.layers), short(s.key))
	}
	if s.cfg.Config.Shell != nil {
		s.shell = append([]string(nil), s.cfg.Config.Shell...)
	}
	s.cfg.Config.OnBuild = nil
	return s, nil
}

// lookup: ENV wins over ARG, as in Docker.
func (s *stage) lookup(name string) (string, bool) {
	for i := len(s.cfg.Config.Env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(s.cfg.Config.Env[i], "="); k == name {
			return v, true
		}
	}
	v, ok := s.args[name]
	return v, ok
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if kk, _, _ := strings.Cut(kv, "="); kk == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// pairs reads KEY=VALUE … (or the old KEY VALUE form) for ENV and LABEL.
func (b *builder) pairs(s *stage, in dockerfile.Instruction) ([][2]string, error) {
	esc := b.opt.Dockerfile.Escape
	words, err := dockerfile.Words(in.Args, s.lookup, esc)
	if err != nil {
		return nil, b.errorf(in, "%v", err)
	}
	if len(words) > 0 && !strings.Contains(words[0], "=") {
		k, rest, _ := strings.Cut(strings.TrimSpace(in.Args), " ")
		v, err := dockerfile.Word(strings.TrimSpace(rest), s.lookup, esc)
		if err != nil {
			return nil, b.errorf(in, "%v", err)
		}
		if strings.TrimSpace(rest) == "" {
			return nil, b.errorf(in, "%s needs a value: %s KEY=VALUE", k, in.Cmd)
		}
		return [][2]string{{k, v}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, b.errorf(in, "%q: want KEY=VALUE", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// command is the argv of RUN, CMD or ENTRYPOINT: the exec form as
// written, or the shell form handed to SHELL (/bin/sh -c by default).
func (s *stage) command(in dockerfile.Instruction) []string {
	if in.IsJSON {
		return append([]string(nil), in.JSON...)
	}
	return append(append([]string(nil), s.shell...), in.Args)
}

// meta records a step that only changes the config.
func (b *builder) meta(s *stage, text string) {
	s.key = Key(s.key, text)
	s.cfg.History = append(s.cfg.History, v1.History{Created: v1.Time{Time: s.created}, CreatedBy: text, EmptyLayer: true})
	b.opt.Log.Note("%s: config only, no layer; key %s", text, short(s.key))
}

func (b *builder) step(s *stage, in dockerfile.Instruction) error {
	esc := b.opt.Dockerfile.Escape
	word := func() (string, error) {
		w, err := dockerfile.Word(in.Args, s.lookup, esc)
		if err != nil {
			return "", b.errorf(in, "%v", err)
		}
		return w, nil
	}
	c := &s.cfg.Config
	switch in.Cmd {
	case "FROM":
		return b.errorf(in, "internal: FROM inside a stage")
	case "ARG":
		decls, err := b.argDecls(in, s.lookup)
		if err != nil {
			return err
		}
		var text []string
		for _, d := range decls {
			v, ok := b.buildArg(d[0])
			switch {
			case ok:
			case d[2] == "=":
				v = d[1]
			default:
				v, ok = b.global[d[0]]
				_ = ok
			}
			s.args[d[0]] = v
			text = append(text, d[0]+d[2]+d[1])
		}
		b.progress(in, "ARG "+strings.Join(text, " "))
		s.key = Key(s.key, "ARG "+strings.Join(text, " "))
		return nil
	case "ENV":
		ps, err := b.pairs(s, in)
		if err != nil {
			return err
		}
		var text []string
		for _, p := range ps {
			c.Env = setEnv(c.Env, p[0], p[1])
			text = append(text, p[0]+"="+p[1])
		}
		b.progress(in, "ENV "+strings.Join(text, " "))
		b.meta(s, "ENV "+strings.Join(text, " "))
	case "LABEL", "MAINTAINER":
		var ps [][2]string
		if in.Cmd == "MAINTAINER" {
			w, err := word()
			if err != nil {
				return err
			}
			ps = [][2]string{{"maintainer", w}}
		} else {
			var err error
			if ps, err = b.pairs(s, in); err != nil {
				return err
			}
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		var text []string
		for _, p := range ps {
			c.Labels[p[0]] = p[1]
			text = append(text, p[0]+"="+strconv.Quote(p[1]))
		}
		b.progress(in, "LABEL "+strings.Join(text, " "))
		b.meta(s, "LABEL "+strings.Join(text, " "))
	case "WORKDIR":
		w, err := word()
		if err != nil {
			return err
		}
		if !path.IsAbs(w) {
			base := c.WorkingDir
			if base == "" {
				base = "/"
			}
			w = path.Join(base, w)
		}
		c.WorkingDir = path.Clean(w)
		b.progress(in, "WORKDIR "+c.WorkingDir)
		b.meta(s, "WORKDIR "+c.WorkingDir)
	case "USER":
		w, err := word()
		if err != nil {
			return err
		}
		c.User = w
		b.progress(in, "USER "+w)
		b.meta(s, "USER "+w)
	case "EXPOSE":
		words, err := dockerfile.Words(in.Args, s.lookup, esc)
		if err != nil {
			return b.errorf(in, "%v", err)
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, w := range words {
			port, proto, ok := strings.Cut(w, "/")
			if !ok {
				proto = "tcp"
			}
			if _, err := strconv.ParseUint(strings.Split(port, "-")[0], 10, 16); err != nil || (proto != "tcp" && proto != "udp" && proto != "sctp") {
				return b.errorf(in, "%q: want PORT[/tcp|udp|sctp]", w)
			}
			c.ExposedPorts[port+"/"+proto] = struct{}{}
		}
		b.progress(in, "EXPOSE "+strings.Join(words, " "))
		b.meta(s, "EXPOSE "+strings.Join(words, " "))
	case "VOLUME":
		words := in.JSON
		if !in.IsJSON {
			var err error
			if words, err = dockerfile.Words(in.Args, s.lookup, esc); err != nil {
				return b.errorf(in, "%v", err)
			}
		}
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, w := range words {
			c.Volumes[w] = struct{}{}
		}
		b.progress(in, "VOLUME "+strings.Join(words, " "))
		b.meta(s, "VOLUME "+explain.Join(words))
	case "CMD":
		c.Cmd = s.command(in)
		s.cmdSet = true
		b.progress(in, "CMD "+explain.Join(c.Cmd))
		b.meta(s, "CMD "+jsonWords(c.Cmd))
	case "ENTRYPOINT":
		c.Entrypoint = s.command(in)
		if !s.cmdSet {
			c.Cmd = nil // like Docker: an ENTRYPOINT resets the base image's CMD
		}
		b.progress(in, "ENTRYPOINT "+explain.Join(c.Entrypoint))
		b.meta(s, "ENTRYPOINT "+jsonWords(c.Entrypoint))
	case "SHELL":
		s.shell = append([]string(nil), in.JSON...)
		c.Shell = s.shell
		b.progress(in, "SHELL "+jsonWords(s.shell))
		b.meta(s, "SHELL "+jsonWords(s.shell))
	case "STOPSIGNAL":
		w, err := word()
		if err != nil {
			return err
		}
		c.StopSignal = w
		b.progress(in, "STOPSIGNAL "+w)
		b.meta(s, "STOPSIGNAL "+w)
	case "HEALTHCHECK", "ONBUILD":
		b.progress(in, in.Cmd+" "+in.Args)
		fmt.Fprintf(b.opt.Out, "img-build: %s:%d: %s is not supported by ctrkit and is skipped\n", b.opt.Dockerfile.File, in.Line, in.Cmd)
	case "COPY", "ADD":
		return b.copy(s, in)
	case "RUN":
		return b.run(s, in)
	default:
		return b.errorf(in, "unknown instruction")
	}
	return nil
}

func jsonWords(w []string) string {
	q := make([]string, len(w))
	for i, s := range w {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

// cached looks a layer step up; on a hit it adds the layer and reports true.
func (b *builder) cached(s *stage, key, step, extra string) bool {
	var why string
	var e *Entry
	if b.opt.NoCache {
		why = "--no-cache"
	} else {
		e, why = b.cache.Get(key, s.key, step, extra, b.images.HasBlob)
	}
	inputs := fmt.Sprintf("parent %s + %q", short(s.key), step)
	if extra != "" {
		inputs += " + " + short(extra)
	}
	if e == nil {
		b.opt.Log.Note("cache miss for key %s = sha256(%s): %s", short(key), inputs, why)
		return false
	}
	b.opt.Log.Note("cache hit for key %s = sha256(%s): layer %s from %s", short(key), inputs, short(e.Layer.Desc.Digest.String()), e.Created.Format(time.RFC3339))
	fmt.Fprintf(b.opt.Out, "  CACHED %s\n", short(e.Layer.Desc.Digest.String()))
	b.res.Cached++
	b.addLayer(s, e.Layer, e.Created, e.CreatedBy)
	s.key = key
	return true
}

func (b *builder) addLayer(s *stage, l Layer, created time.Time, createdBy string) {
	if l.Desc.MediaType == "" {
		l.Desc.MediaType = s.layerType
	}
	s.layers = append(s.layers, l)
	s.cfg.RootFS.Type = "layers"
	s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, l.DiffID)
	s.cfg.History = append(s.cfg.History, v1.History{Created: v1.Time{Time: created}, CreatedBy: createdBy})
	s.created = created
}

func (b *builder) store(s *stage, key, step, extra string, l Layer, createdBy string) error {
	now := time.Now().UTC().Truncate(time.Second)
	e := &Entry{Key: key, Parent: s.key, Step: step, Extra: extra, Layer: l, Created: now, CreatedBy: createdBy}
	if err := b.cache.Put(e); err != nil {
		return fmt.Errorf("write build cache: %w", err)
	}
	b.addLayer(s, l, now, createdBy)
	s.key = key
	return nil
}

// copy runs COPY or ADD.
func (b *builder) copy(s *stage, in dockerfile.Instruction) error {
	esc := b.opt.Dockerfile.Escape
	words := in.JSON
	if !in.IsJSON {
		var err error
		if words, err = dockerfile.Words(in.Args, s.lookup, esc); err != nil {
			return b.errorf(in, "%v", err)
		}
	}
	if len(words) < 2 {
		return b.errorf(in, "want SOURCE… DEST, got %q", in.Args)
	}
	srcs, dest := words[:len(words)-1], words[len(words)-1]
	for _, src := range srcs {
		if in.Cmd == "ADD" && (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "git@")) {
			return b.errorf(in, "%s: ADD from a URL is not supported (download it into the context, or RUN wget in a --network host build)", src)
		}
	}
	if !path.IsAbs(dest) {
		wd := s.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		trail := strings.HasSuffix(dest, "/")
		dest = path.Join(wd, dest)
		if trail {
			dest += "/"
		}
	}
	step := in.Cmd
	for _, k := range []string{"from", "chown", "chmod"} {
		if v, ok := in.Flags[k]; ok {
			w, err := dockerfile.Word(v, s.lookup, esc)
			if err != nil {
				return b.errorf(in, "%v", err)
			}
			in.Flags[k] = w
			step += " --" + k + "=" + w
		}
	}
	step += " " + explain.Join(srcs) + " " + dest
	b.progress(in, step)
	if err := s.ix.update(b.images, s.layers); err != nil {
		return err
	}
	plan := &copyPlan{}
	if v := in.Flags["chown"]; v != "" {
		o, err := b.chown(s, v)
		if err != nil {
			return b.errorf(in, "%v", err)
		}
		plan.chown = o
	}
	if v := in.Flags["chmod"]; v != "" {
		m, err := strconv.ParseUint(v, 8, 32)
		if err != nil {
			return b.errorf(in, "--chmod=%s: want an octal mode such as 0755", v)
		}
		fm := fs.FileMode(m)
		plan.chmod = &fm
	}
	var extra string
	ign := b.opt.Ignore
	if from := in.Flags["from"]; from != "" {
		// The source is another stage (or image): mounted with fs-layer,
		// read through os.Root so its symlinks cannot lead outside.
		ref := from
		if j, ok := b.stageRef(from, s.index); ok {
			extra = "stage " + b.stages[j].key
			tmp, err := b.tempImage(b.stages[j])
			if err != nil {
				return err
			}
			defer b.untag(tmp)
			ref = tmp
		} else {
			img, err := b.images.Resolve(from)
			if err != nil {
				return b.errorf(in, "--from=%s: no such stage, and %v", from, err)
			}
			extra = "image " + img.Descriptor.Digest.String()
		}
		key := Key(s.key, step, extra)
		if b.cached(s, key, step, extra) {
			return nil
		}
		dir, done, err := b.opt.Exec.Mount(ref)
		if err != nil {
			return b.errorf(in, "--from=%s: %v", from, err)
		}
		// Deferred first, so it runs last: the mount must not be busy
		// with our open directory when fs-layer rm unmounts it.
		defer done()
		root, err := os.OpenRoot(dir)
		if err != nil {
			return err
		}
		defer root.Close()
		plan.root, plan.keepIDs, ign = root, true, nil
		items, err := planCopy(root, srcs, dest, ign, s.ix, false)
		if err != nil {
			return b.errorf(in, "%v (in stage %s)", err, from)
		}
		plan.items = items
		return b.writeCopy(s, in, plan, key, step, extra)
	}
	root, err := os.OpenRoot(b.opt.Context)
	if err != nil {
		return fmt.Errorf("open the build context: %w", err)
	}
	defer root.Close()
	plan.root = root
	items, err := planCopy(root, srcs, dest, ign, s.ix, in.Cmd == "ADD")
	if err != nil {
		return b.errorf(in, "%v in the build context %s", err, b.opt.Context)
	}
	plan.items = items
	if extra, err = plan.Hash(); err != nil {
		return err
	}
	b.opt.Log.Note("%s: %d files, content hash %s (path, type, mode, owner, link, bytes; not mtime)", in.Cmd, len(items), short(extra))
	key := Key(s.key, step, extra)
	if b.cached(s, key, step, extra) {
		return nil
	}
	return b.writeCopy(s, in, plan, key, step, extra)
}

func (b *builder) writeCopy(s *stage, in dockerfile.Instruction, plan *copyPlan, key, step, extra string) error {
	w, err := newLayerWriter(b.images.Root + "/oci.tmp")
	if err != nil {
		return err
	}
	n, err := plan.write(w.tw, s.ix)
	if err != nil {
		w.discard()
		return b.errorf(in, "%v", err)
	}
	l, err := w.finish(b.images, s.layerType, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.opt.Out, "  layer %s (%d entries)\n", short(l.Desc.Digest.String()), n)
	b.opt.Log.Step(fmt.Sprintf("write blobs/sha256/%s (%d entries)", l.Desc.Digest.Hex, n), "tar -c … | gzip | sha256sum")
	return b.store(s, key, step, extra, l, step)
}

// chown reads --chown=USER[:GROUP], by number or by name from the image's
// /etc/passwd and /etc/group.
func (b *builder) chown(s *stage, v string) (*owner, error) {
	u, g, hasG := strings.Cut(v, ":")
	o := &owner{}
	if n, err := strconv.Atoi(u); err == nil {
		o.uid, o.gid = n, n
	} else if id, gid, ok := lookupID(s.ix.passwd, u); ok {
		o.uid, o.gid = id, gid
	} else {
		return nil, fmt.Errorf("--chown=%s: no user %q in the image's /etc/passwd", v, u)
	}
	if hasG {
		if n, err := strconv.Atoi(g); err == nil {
			o.gid = n
		} else if id, _, ok := lookupID(s.ix.group, g); ok {
			o.gid = id
		} else {
			return nil, fmt.Errorf("--chown=%s: no group %q in the image's /etc/group", v, g)
		}
	}
	return o, nil
}

// write stores the stage's config and manifest, and returns the manifest's
// descriptor.
func (b *builder) write(s *stage) (v1.Descriptor, error) {
	cfg := s.cfg.DeepCopy()
	cfg.Created = v1.Time{Time: s.created}
	if cfg.OS == "" {
		cfg.OS = "linux"
	}
	raw, err := jsonMarshal(cfg)
	if err != nil {
		return v1.Descriptor{}, err
	}
	cfgType := types.OCIConfigJSON
	if s.manType == types.DockerManifestSchema2 {
		cfgType = types.DockerConfigJSON
	}
	cd, err := b.images.PutBytes(cfgType, raw)
	if err != nil {
		return v1.Descriptor{}, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: s.manType, Config: cd, Layers: []v1.Descriptor{}}
	for _, l := range s.layers {
		m.Layers = append(m.Layers, l.Desc)
	}
	rawM, err := jsonMarshal(m)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, err := b.images.PutBytes(s.manType, rawM)
	if err != nil {
		return v1.Descriptor{}, err
	}
	d.Platform = &v1.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}
	return d, nil
}

// tempImage writes s and tags it localhost/ctrkit-build:ID, so fs-layer
// can mount it; untag removes the name.
func (b *builder) tempImage(s *stage) (string, error) {
	d, err := b.write(s)
	if err != nil {
		return "", err
	}
	name := "localhost/ctrkit-build:" + spec.NewID()
	if err := b.images.Tag(name, d); err != nil {
		return "", err
	}
	b.opt.Log.Note("the image so far is %s, tagged %s for fs-layer to mount", d.Digest, name)
	return name, nil
}

func (b *builder) untag(name string) { b.images.Remove(name) }

// runEnv is the environment of a RUN: the image's ENV, and the stage's
// ARGs that ENV does not set.
func (s *stage) runEnv() []string {
	env := append([]string(nil), s.cfg.Config.Env...)
	if _, ok := s.lookupEnv("PATH"); !ok {
		// like Docker: a RUN always has a PATH
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	var names []string
	for k := range s.args {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, set := s.lookupEnv(k); !set {
			env = append(env, k+"="+s.args[k])
		}
	}
	return env
}

func (s *stage) lookupEnv(name string) (string, bool) {
	for _, kv := range s.cfg.Config.Env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v, true
		}
	}
	return "", false
}

// run runs RUN.
func (b *builder) run(s *stage, in dockerfile.Instruction) error {
	argv := s.command(in)
	step := "RUN " + jsonWords(argv)
	b.progress(in, "RUN "+in.Args)
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
	tmp, err := b.tempImage(s)
	if err != nil {
		return err
	}
	defer b.untag(tmp)
	tarFile, err := os.CreateTemp(b.images.Root+"/oci.tmp", "run-*.tar")
	if err != nil {
		return err
	}
	tarFile.Close()
	defer os.Remove(tarFile.Name())
	b.res.Ran++
	err = b.opt.Exec.Run(RunSpec{Image: tmp, Args: argv, Env: s.runEnv(), Cwd: s.cfg.Config.WorkingDir,
		User: s.cfg.Config.User, Network: network, Output: tarFile.Name()})
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) {
			return &StepError{Err: b.errorf(in, "%s: exit status %d", in.Args, ee.Code), Code: ee.Code}
		}
		return b.errorf(in, "%v", err)
	}
	f, err := os.Open(tarFile.Name())
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := newLayerWriter(b.images.Root + "/oci.tmp")
	if err != nil {
		return err
	}
	if _, err := io.Copy(w.raw, f); err != nil {
		w.discard()
		return err
	}
	l, err := w.finish(b.images, s.layerType, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.opt.Out, "  layer %s\n", short(l.Desc.Digest.String()))
	return b.store(s, key, step, extra, l, "RUN "+explain.Join(argv))
}

// StepError is a RUN whose command failed: the build exits with its status.
type StepError struct {
	Err  error
	Code int
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) ExitCode() int { return e.Code }

func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
