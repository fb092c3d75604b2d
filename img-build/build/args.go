package build

import (
	"fmt"
	"strings"

	"ctrkit/img-build/dockerfile"
)

// ARG declares a build argument: NAME or NAME=DEFAULT. Its value is, in
// order, the --build-arg of that name, the default written here, or (in a
// stage) the value of the global ARG of that name, declared before the
// first FROM. Each stage must declare the ARGs it uses, as in Docker; a
// RUN sees them as environment variables that ENV does not set.

// argDecl is one NAME[=DEFAULT] of an ARG.
type argDecl struct {
	name, def  string
	hasDefault bool
}

func (d argDecl) String() string {
	if d.hasDefault {
		return d.name + "=" + d.def
	}
	return d.name
}

// ParseBuildArgs reads --build-arg KEY=VALUE … into a map; a KEY alone
// takes its value from env (os.LookupEnv), as docker build does.
func ParseBuildArgs(list []string, env func(string) (string, bool)) (map[string]string, error) {
	args := map[string]string{}
	for _, a := range list {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if v, ok = env(k); !ok {
				return nil, fmt.Errorf("--build-arg %s: no value, and %s is not set in the environment (use --build-arg %s=VALUE)", k, k, k)
			}
		}
		args[k] = v
	}
	return args, nil
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

// argDecls reads ARG NAME[=DEFAULT] ….
func (b *builder) argDecls(in dockerfile.Instruction, lookup dockerfile.Lookup) ([]argDecl, error) {
	words, err := dockerfile.Words(in.Args, lookup, b.opt.Dockerfile.Escape)
	if err != nil {
		return nil, b.errorf(in, "%v", err)
	}
	var out []argDecl
	for _, w := range words {
		k, v, hasDef := strings.Cut(w, "=")
		if k == "" {
			return nil, b.errorf(in, "%q: want NAME or NAME=DEFAULT", w)
		}
		out = append(out, argDecl{k, v, hasDef})
	}
	return out, nil
}

// globalArg runs an instruction before the first FROM: only ARG may be.
func (b *builder) globalArg(in dockerfile.Instruction) error {
	if in.Cmd != "ARG" {
		return b.errorf(in, "only ARG may come before the first FROM")
	}
	decls, err := b.argDecls(in, b.globalLookup)
	if err != nil {
		return err
	}
	for _, d := range decls {
		v, ok := b.buildArg(d.name)
		if !ok {
			v = d.def
		}
		b.global[d.name] = v
	}
	return nil
}

// arg runs ARG inside a stage. It changes the cache key (a RUN after it
// sees the value) but not the image.
func (b *builder) arg(s *stage, in dockerfile.Instruction) error {
	decls, err := b.argDecls(in, s.lookup)
	if err != nil {
		return err
	}
	var text []string
	for _, d := range decls {
		v, ok := b.buildArg(d.name)
		switch {
		case ok:
		case d.hasDefault:
			v = d.def
		default:
			v = b.global[d.name]
		}
		s.args[d.name] = v
		text = append(text, d.String())
	}
	b.progress("ARG " + strings.Join(text, " "))
	s.key = Key(s.key, "ARG "+strings.Join(text, " "))
	return nil
}
