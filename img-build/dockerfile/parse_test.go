package dockerfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	src := "# escape=`\n" +
		"ARG BASE=busybox\n" +
		"FROM $BASE AS build\n" +
		"\n" +
		"# a comment\n" +
		"RUN echo a `\n" +
		"  # a comment inside a continuation\n" +
		"\n" +
		"  && echo b\n" +
		"copy --from=build --chown=1:2 a b /dst/\n" +
		"CMD [\"sh\", \"-c\", \"echo hi\"]\n" +
		"ENTRYPOINT [not json\n"
	df, err := Parse(strings.NewReader(src), "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if df.Escape != '`' {
		t.Errorf("Escape = %q, want `", df.Escape)
	}
	type row struct {
		Line  int
		Cmd   string
		Flags map[string]string
		Args  string
		JSON  []string
	}
	var got []row
	for _, in := range df.Instructions {
		got = append(got, row{in.Line, in.Cmd, in.Flags, in.Args, in.JSON})
	}
	want := []row{
		{2, "ARG", nil, "BASE=busybox", nil},
		{3, "FROM", nil, "$BASE AS build", nil},
		{6, "RUN", nil, "echo a   && echo b", nil},
		{10, "COPY", map[string]string{"from": "build", "chown": "1:2"}, "a b /dst/", nil},
		{11, "CMD", nil, `["sh", "-c", "echo hi"]`, []string{"sh", "-c", "echo hi"}},
		{12, "ENTRYPOINT", nil, "[not json", nil},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", d)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"FROM a\nRUNN x\n", "Dockerfile:2: unknown instruction \"RUNN\""},
		{"FROM a\n\n\nENV\n", "Dockerfile:4: ENV needs arguments"},
		{"ENV A=1\nFROM a\n", "Dockerfile:1: ENV before the first FROM"},
		{"FROM a\nCOPY --bogus=1 a b\n", "Dockerfile:2: COPY does not take the flag --bogus"},
		{"FROM a\nSHELL sh -c\n", "Dockerfile:2: SHELL needs a JSON array"},
		{"# escape=x\nFROM a\n", "Dockerfile:1: escape directive"},
		{"\n# only a comment\n", "Dockerfile:1: the Dockerfile has no instructions"},
	} {
		_, err := Parse(strings.NewReader(tc.src), "Dockerfile")
		var pe *Error
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an *Error containing %q", tc.src, err, tc.want)
		}
	}
}

func TestWords(t *testing.T) {
	vars := EnvLookup([]string{"A=1", "B=two words", "EMPTY="})
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"$A ${A}x", []string{"1", "1x"}},
		{`"$B" '$B'`, []string{"two words", "$B"}},
		{`\$A a\ b`, []string{"$A", "a b"}},
		{"${UNSET:-def} ${EMPTY:-def} ${EMPTY-def}", []string{"def", "def", ""}},
		{"${A:+alt} ${UNSET:+alt}x ${EMPTY+set}", []string{"alt", "x", "set"}},
		{"${UNSET:-${A}0}", []string{"10"}},
		{"K=\"v 1\" L=x", []string{"K=v 1", "L=x"}},
		{"cost$ 5", []string{"cost$", "5"}},
	} {
		got, err := Words(tc.in, vars, '\\')
		if err != nil {
			t.Errorf("Words(%q): %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("Words(%q) mismatch (-want +got):\n%s", tc.in, d)
		}
	}
	if got, _ := Word("/app/$A dir", vars, '\\'); got != "/app/1 dir" {
		t.Errorf("Word(%q) = %q, want %q", "/app/$A dir", got, "/app/1 dir")
	}
	if got, _ := Words("`$A", vars, '`'); len(got) != 1 || got[0] != "$A" {
		t.Errorf("Words with escape ` = %q, want [$A]", got)
	}
	for _, bad := range []string{`"open`, "'open", "${A", "${A:?x}", "${}"} {
		if _, err := Words(bad, vars, '\\'); err == nil {
			t.Errorf("Words(%q) = nil error, want one", bad)
		}
	}
}
