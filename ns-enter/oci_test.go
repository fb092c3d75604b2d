package main

import (
	"reflect"
	"strings"
	"testing"

	"ctrkit/internal/cli"

	"github.com/alecthomas/kong"
)

// TestOCIParseNarrowed: runc's command lines, as containerd and dockerd
// write them, parse through the cut grammar (one verb's model, not every
// verb's) into what the whole grammar gives.
func TestOCIParseNarrowed(t *testing.T) {
	for _, args := range [][]string{
		{"--root", "/run/containerd/runc/default", "--log", "/b/log.json", "--log-format", "json", "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "c1"},
		{"--root", "/r", "--log=/b/log.json", "--log-format=json", "start", "c1"},
		{"--root", "/r", "--debug", "delete", "--force", "c1"},
		{"--root", "/r", "kill", "c1", "9"},
		{"--systemd-cgroup", "--root", "/r", "state", "c1"},
		{"run", "--bundle", "/b", "c1"},
	} {
		var cut, whole OCI
		k, ctx, err := cli.Parse(&cut, args, kong.Name(ociName))
		if err != nil {
			t.Fatalf("cli.Parse(%q) = %v", args, err)
		}
		if len(k.Model.Children) != 1 {
			t.Errorf("cli.Parse(%q): a model of %d verbs, want only the one asked for", args, len(k.Model.Children))
		}
		wctx, err := kong.Must(&whole, kong.Name(ociName)).Parse(args)
		if err != nil {
			t.Fatalf("kong parse %q: %v", args, err)
		}
		// The verbs not asked for are not parsed by the cut grammar (their
		// defaults stay unset), and nothing reads them.
		verb := strings.Fields(ctx.Command())[0]
		if ctx.Command() != wctx.Command() || !reflect.DeepEqual(parsed(cut, verb), parsed(whole, verb)) {
			t.Errorf("%q: cut grammar ran %q with %+v; the whole one %q with %+v", args, ctx.Command(), cut, wctx.Command(), whole)
		}
	}
}

// parsed is o's global flags and the flags and arguments of verb.
func parsed(o OCI, verb string) []any {
	v := reflect.ValueOf(o)
	var out []any
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if _, isVerb := f.Tag.Lookup("cmd"); !isVerb || strings.ToLower(f.Name) == verb {
			out = append(out, v.Field(i).Interface())
		}
	}
	return out
}
