package build

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"ctrkit/img-build/dockerfile"
	"ctrkit/internal/store"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// defaultPath is the PATH of scratch, and of a RUN whose image sets none
// (as in Docker).
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

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
	base      string // the FROM image's manifest digest; "" for scratch or a stage
}

// from starts stage i from its base: scratch, an earlier stage, or an
// image (from the store, else pulled with img-pull).
func (b *builder) from(in dockerfile.Instruction, i int, name, ref string) (*stage, error) {
	text := "FROM " + ref
	if name != "" {
		text += " AS " + name
	}
	b.progress(text)
	s := &stage{name: name, index: i, args: map[string]string{}, shell: []string{"/bin/sh", "-c"},
		manType: types.OCIManifestSchema1, layerType: types.OCILayer, ix: newFileIndex()}
	switch j, isStage := b.stageRef(ref, i); {
	case strings.EqualFold(ref, "scratch"):
		s.cfg = &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
		s.cfg.Config.Env = []string{defaultPath}
		s.key = Key("", "FROM scratch")
	case isStage:
		p := b.stages[j]
		s.cfg = p.cfg.DeepCopy()
		s.manType, s.layerType = p.manType, p.layerType
		s.layers = append([]Layer(nil), p.layers...)
		s.key, s.shell, s.created = p.key, append([]string(nil), p.shell...), p.created
		b.opt.Log.Note("FROM %s: stage %d, key %s", ref, j, short(s.key))
	default:
		if err := b.fromImage(s, in, ref); err != nil {
			return nil, err
		}
	}
	if s.cfg.Config.Shell != nil {
		s.shell = append([]string(nil), s.cfg.Config.Shell...)
	}
	s.cfg.Config.OnBuild = nil
	return s, nil
}

// fromImage starts s from an image in the store, pulled if missing.
func (b *builder) fromImage(s *stage, in dockerfile.Instruction, ref string) error {
	img, err := b.images.Resolve(ref)
	if errors.Is(err, store.ErrNotFound) {
		fmt.Fprintf(b.opt.Out, "img-build: %s is not in the store: pulling it\n", ref)
		if perr := b.opt.Exec.Pull(ref); perr != nil {
			return b.errorf(in, "%v", perr)
		}
		img, err = b.images.Resolve(ref)
	}
	if err != nil {
		return b.errorf(in, "%v", err)
	}
	s.cfg = img.Config.DeepCopy()
	if img.Manifest.MediaType != "" {
		s.manType = img.Manifest.MediaType
	}
	if s.manType == types.DockerManifestSchema2 {
		s.layerType = types.DockerLayer
	}
	if len(img.Manifest.Layers) != len(s.cfg.RootFS.DiffIDs) {
		return b.errorf(in, "image %s: %d layers but %d diff ids in its config", ref, len(img.Manifest.Layers), len(s.cfg.RootFS.DiffIDs))
	}
	for k, l := range img.Manifest.Layers {
		s.layers = append(s.layers, Layer{Desc: l, DiffID: s.cfg.RootFS.DiffIDs[k]})
	}
	s.base = img.Descriptor.Digest.String()
	s.key = Key("", "FROM", s.base)
	s.created = s.cfg.Created.Time
	b.opt.Log.Note("FROM %s: manifest %s, %d layers; key %s = sha256(manifest digest)", ref, img.Descriptor.Digest, len(s.layers), short(s.key))
	return nil
}

// lookup: ENV wins over ARG, as in Docker.
func (s *stage) lookup(name string) (string, bool) {
	if v, ok := s.lookupEnv(name); ok {
		return v, true
	}
	v, ok := s.args[name]
	return v, ok
}

func (s *stage) lookupEnv(name string) (string, bool) {
	for i := len(s.cfg.Config.Env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(s.cfg.Config.Env[i], "="); k == name {
			return v, true
		}
	}
	return "", false
}

// command is the argv of RUN, CMD or ENTRYPOINT: the exec form as
// written, or the shell form handed to SHELL (/bin/sh -c by default).
func (s *stage) command(in dockerfile.Instruction) []string {
	if in.IsJSON {
		return append([]string(nil), in.JSON...)
	}
	return append(append([]string(nil), s.shell...), in.Args)
}

// runEnv is the environment of a RUN: the image's ENV, and the stage's
// ARGs that ENV does not set.
func (s *stage) runEnv() []string {
	env := append([]string(nil), s.cfg.Config.Env...)
	if _, ok := s.lookupEnv("PATH"); !ok {
		env = append(env, defaultPath) // like Docker: a RUN always has a PATH
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
