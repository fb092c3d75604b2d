package build

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"ctrkit/img-build/dockerfile"
	"ctrkit/internal/explain"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The steps that only change the image config: each sets its field of
// the config (what `docker inspect` shows as Config), adds a history entry
// marked empty_layer, and moves the cache key on so that every later step
// depends on it. No layer, nothing run.

// stepFunc runs one instruction of a stage.
type stepFunc func(b *builder, s *stage, in dockerfile.Instruction) error

// steps maps each instruction inside a stage to the function that runs it.
var steps = map[string]stepFunc{
	"ARG":         (*builder).arg,
	"ENV":         (*builder).env,
	"LABEL":       (*builder).label,
	"MAINTAINER":  (*builder).label,
	"WORKDIR":     (*builder).workdir,
	"USER":        (*builder).user,
	"EXPOSE":      (*builder).expose,
	"VOLUME":      (*builder).volume,
	"CMD":         (*builder).cmd,
	"ENTRYPOINT":  (*builder).entrypoint,
	"SHELL":       (*builder).shell,
	"STOPSIGNAL":  (*builder).stopSignal,
	"HEALTHCHECK": (*builder).unsupported,
	"ONBUILD":     (*builder).unsupported,
	"COPY":        (*builder).copy,
	"ADD":         (*builder).copy,
	"RUN":         (*builder).run,
}

// step runs one instruction of stage s.
func (b *builder) step(s *stage, in dockerfile.Instruction) error {
	f, ok := steps[in.Cmd]
	if !ok {
		return b.errorf(in, "unknown instruction here (FROM starts a stage, it is not a step in one)")
	}
	return f(b, s, in)
}

// meta records a step that only changes the config: shown in the
// progress, recorded in the history and the cache key.
func (b *builder) meta(s *stage, shown, recorded string) {
	b.progress(shown)
	s.key = Key(s.key, recorded)
	s.cfg.History = append(s.cfg.History, v1.History{Created: v1.Time{Time: s.created}, CreatedBy: recorded, EmptyLayer: true})
	b.opt.Log.Note("%s: config only, no layer; key %s", recorded, short(s.key))
}

// word is the instruction's argument as one word, $VARs expanded.
func (b *builder) word(s *stage, in dockerfile.Instruction) (string, error) {
	w, err := dockerfile.Word(in.Args, s.lookup, b.opt.Dockerfile.Escape)
	if err != nil {
		return "", b.errorf(in, "%v", err)
	}
	return w, nil
}

// words is the instruction's arguments split into words, $VARs expanded.
func (b *builder) words(s *stage, in dockerfile.Instruction) ([]string, error) {
	if in.IsJSON {
		return in.JSON, nil
	}
	w, err := dockerfile.Words(in.Args, s.lookup, b.opt.Dockerfile.Escape)
	if err != nil {
		return nil, b.errorf(in, "%v", err)
	}
	return w, nil
}

// pairs reads KEY=VALUE … (or the old KEY VALUE form) for ENV and LABEL.
func (b *builder) pairs(s *stage, in dockerfile.Instruction) ([][2]string, error) {
	words, err := b.words(s, in)
	if err != nil {
		return nil, err
	}
	if len(words) > 0 && !strings.Contains(words[0], "=") {
		k, rest, _ := strings.Cut(strings.TrimSpace(in.Args), " ")
		if strings.TrimSpace(rest) == "" {
			return nil, b.errorf(in, "%s needs a value: %s KEY=VALUE", k, in.Cmd)
		}
		v, err := dockerfile.Word(strings.TrimSpace(rest), s.lookup, b.opt.Dockerfile.Escape)
		if err != nil {
			return nil, b.errorf(in, "%v", err)
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

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if kk, _, _ := strings.Cut(kv, "="); kk == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// env runs ENV KEY=VALUE …: Config.Env.
func (b *builder) env(s *stage, in dockerfile.Instruction) error {
	ps, err := b.pairs(s, in)
	if err != nil {
		return err
	}
	var text []string
	for _, p := range ps {
		s.cfg.Config.Env = setEnv(s.cfg.Config.Env, p[0], p[1])
		text = append(text, p[0]+"="+p[1])
	}
	t := "ENV " + strings.Join(text, " ")
	b.meta(s, t, t)
	return nil
}

// label runs LABEL KEY=VALUE … and MAINTAINER NAME: Config.Labels.
func (b *builder) label(s *stage, in dockerfile.Instruction) error {
	var ps [][2]string
	if in.Cmd == "MAINTAINER" {
		w, err := b.word(s, in)
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
	c := &s.cfg.Config
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	var text []string
	for _, p := range ps {
		c.Labels[p[0]] = p[1]
		text = append(text, p[0]+"="+strconv.Quote(p[1]))
	}
	t := "LABEL " + strings.Join(text, " ")
	b.meta(s, t, t)
	return nil
}

// workdir runs WORKDIR DIR: Config.WorkingDir, relative to the last one.
func (b *builder) workdir(s *stage, in dockerfile.Instruction) error {
	w, err := b.word(s, in)
	if err != nil {
		return err
	}
	c := &s.cfg.Config
	if !path.IsAbs(w) {
		base := c.WorkingDir
		if base == "" {
			base = "/"
		}
		w = path.Join(base, w)
	}
	c.WorkingDir = path.Clean(w)
	b.meta(s, "WORKDIR "+c.WorkingDir, "WORKDIR "+c.WorkingDir)
	return nil
}

// user runs USER NAME[:GROUP]: Config.User, resolved when a container
// starts (fs-layer reads the image's /etc/passwd).
func (b *builder) user(s *stage, in dockerfile.Instruction) error {
	w, err := b.word(s, in)
	if err != nil {
		return err
	}
	s.cfg.Config.User = w
	b.meta(s, "USER "+w, "USER "+w)
	return nil
}

// expose runs EXPOSE PORT[/PROTO] …: Config.ExposedPorts.
func (b *builder) expose(s *stage, in dockerfile.Instruction) error {
	words, err := b.words(s, in)
	if err != nil {
		return err
	}
	c := &s.cfg.Config
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
	t := "EXPOSE " + strings.Join(words, " ")
	b.meta(s, t, t)
	return nil
}

// volume runs VOLUME DIR …: Config.Volumes.
func (b *builder) volume(s *stage, in dockerfile.Instruction) error {
	words, err := b.words(s, in)
	if err != nil {
		return err
	}
	c := &s.cfg.Config
	if c.Volumes == nil {
		c.Volumes = map[string]struct{}{}
	}
	for _, w := range words {
		c.Volumes[w] = struct{}{}
	}
	b.meta(s, "VOLUME "+strings.Join(words, " "), "VOLUME "+explain.Join(words))
	return nil
}

// cmd runs CMD: Config.Cmd.
func (b *builder) cmd(s *stage, in dockerfile.Instruction) error {
	s.cfg.Config.Cmd = s.command(in)
	s.cmdSet = true
	b.meta(s, "CMD "+explain.Join(s.cfg.Config.Cmd), "CMD "+jsonWords(s.cfg.Config.Cmd))
	return nil
}

// entrypoint runs ENTRYPOINT: Config.Entrypoint.
func (b *builder) entrypoint(s *stage, in dockerfile.Instruction) error {
	c := &s.cfg.Config
	c.Entrypoint = s.command(in)
	if !s.cmdSet {
		c.Cmd = nil // like Docker: an ENTRYPOINT resets the base image's CMD
	}
	b.meta(s, "ENTRYPOINT "+explain.Join(c.Entrypoint), "ENTRYPOINT "+jsonWords(c.Entrypoint))
	return nil
}

// shell runs SHELL ["prog", "arg"]: the shell of later shell-form steps.
func (b *builder) shell(s *stage, in dockerfile.Instruction) error {
	s.shell = append([]string(nil), in.JSON...)
	s.cfg.Config.Shell = s.shell
	t := "SHELL " + jsonWords(s.shell)
	b.meta(s, t, t)
	return nil
}

// stopSignal runs STOPSIGNAL SIG: Config.StopSignal.
func (b *builder) stopSignal(s *stage, in dockerfile.Instruction) error {
	w, err := b.word(s, in)
	if err != nil {
		return err
	}
	s.cfg.Config.StopSignal = w
	b.meta(s, "STOPSIGNAL "+w, "STOPSIGNAL "+w)
	return nil
}

// unsupported skips HEALTHCHECK and ONBUILD, and says so.
func (b *builder) unsupported(s *stage, in dockerfile.Instruction) error {
	b.progress(in.Cmd + " " + in.Args)
	fmt.Fprintf(b.opt.Out, "img-build: %s:%d: %s is not supported by ctrkit and is skipped\n", b.opt.Dockerfile.File, in.Line, in.Cmd)
	return nil
}

func jsonWords(w []string) string {
	q := make([]string, len(w))
	for i, s := range w {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ",") + "]"
}
