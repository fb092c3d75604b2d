package cli

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/alecthomas/kong"
)

type runVerb struct {
	Name string   `short:"n"`
	Rm   bool     `help:"remove"`
	Args []string `arg:"" optional:""`
}

func (v *runVerb) Run(out *bytes.Buffer) error { out.WriteString("run"); return nil }

type rmVerb struct {
	Force bool     `short:"f"`
	IDs   []string `arg:""`
}

func (v *rmVerb) Run(out *bytes.Buffer) error { out.WriteString("rm"); return nil }

type tool struct {
	Globals
	Verbose bool    `short:"v"`
	Run     runVerb `cmd:"" default:"withargs"`
	Rm      rmVerb  `cmd:"" aliases:"delete"`
	NewNet  rmVerb  `cmd:"" name:"network"`
}

// TestNarrow: the cut grammar holds the verb the arguments select, or
// none when kong must decide.
func TestNarrow(t *testing.T) {
	for _, tt := range []struct {
		args []string
		verb string // "": the whole grammar
	}{
		{[]string{"rm", "a"}, "Rm"},
		{[]string{"--explain", "--root", "rm", "delete", "x"}, "Rm"}, // --root takes "rm"; delete is the verb
		{[]string{"--state=/s", "network", "x"}, "NewNet"},
		{[]string{"--rm", "busybox", "true"}, "Run"},
		{[]string{"busybox", "--", "rm"}, "Run"}, // after --, words are the command's
		{[]string{"-n", "x", "busybox"}, "Run"},
		{[]string{"--verbose", "rm", "a"}, "Rm"}, // a root flag with a short name too
		{[]string{"-v", "busybox"}, "Run"},       // the scan stops at -v: the default verb
		{[]string{"-v", "rm", "a"}, ""},          // …unless a word names another verb
		{[]string{"--rm", "busybox", "rm"}, ""},  // rm may be the verb: kong decides
		{[]string{"rm", "--help"}, ""},
		{[]string{"-h"}, ""},
		{nil, ""},
	} {
		var g tool
		n := narrow(&g, tt.args)
		got := ""
		if n != nil {
			st := reflect.TypeOf(n.grammar).Elem()
			got = st.Field(st.NumField() - 1).Name
		}
		if got != tt.verb {
			t.Errorf("narrow(%q) = %q, want %q", tt.args, got, tt.verb)
		}
	}
}

// TestNarrowSame parses with and without the cut: same verb, same values.
func TestNarrowSame(t *testing.T) {
	for _, args := range [][]string{
		{"rm", "-f", "a", "b"},
		{"--explain", "--root", "/r", "delete", "x"},
		{"-v", "--verbose", "rm", "a"},
		{"--rm", "-n", "c", "busybox", "true"},
		{"busybox"},
		{"network", "x"},
	} {
		var cut, whole tool
		var out1, out2, so, se bytes.Buffer
		if err := Main("tool", "d", &cut, args, &so, &se, &out1); err != nil {
			t.Fatalf("Main(%q) = %v", args, err)
		}
		k, err := kong.New(&whole, options("tool", "d", &so, &se)...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, err := k.Parse(args)
		if err != nil {
			t.Fatalf("parse %q: %v", args, err)
		}
		if err := ctx.Run(&out2); err != nil {
			t.Fatal(err)
		}
		if out1.String() != out2.String() || !reflect.DeepEqual(cut, whole) {
			t.Errorf("Main(%q) ran %q with %+v; the whole grammar %q with %+v", args, out1.String(), cut, out2.String(), whole)
		}
	}
}
