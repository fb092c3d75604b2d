package dockerfile

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
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

func TestParseHeredocs(t *testing.T) {
	src := "\xef\xbb\xbfFROM busybox\n" +
		"RUN <<EOF\n" +
		"echo one\n" +
		"echo two\n" +
		"EOF\n" +
		"RUN cat <<A >/a && cat <<-\"B\" >/b\n" +
		"a $HOME\n" +
		"A\n" +
		"\t\tb $HOME\n" +
		"B\n" +
		"COPY --chmod=0755 <<EOF <<'RAW' /dst/\n" +
		"x\n" +
		"EOF\n" +
		"y $HOME\n" +
		"RAW\n" +
		"CMD [\"sh\"]\n"
	df, err := Parse(strings.NewReader(src), "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Line     int
		Cmd      string
		Args     string
		Heredocs []Heredoc
	}
	var got []row
	for _, in := range df.Instructions {
		got = append(got, row{in.Line, in.Cmd, in.Args, in.Heredocs})
	}
	want := []row{
		{1, "FROM", "busybox", nil},
		{2, "RUN", "<<EOF", []Heredoc{{"EOF", "echo one\necho two\n", true}}},
		{6, "RUN", `cat <<A >/a && cat <<-"B" >/b`, []Heredoc{{"A", "a $HOME\n", true}, {"B", "b $HOME\n", false}}},
		{11, "COPY", "/dst/", []Heredoc{{"EOF", "x\n", true}, {"RAW", "y $HOME\n", false}}},
		{16, "CMD", `["sh"]`, nil},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", d)
	}
	if _, err := Parse(strings.NewReader("FROM a\nRUN <<EOF\necho\n"), "Dockerfile"); err == nil || !strings.Contains(err.Error(), "Dockerfile:2: unterminated heredoc") {
		t.Errorf("Parse(unterminated heredoc) = %v, want Dockerfile:2: unterminated heredoc", err)
	}
}

func TestSkipFlags(t *testing.T) {
	for in, want := range map[string]string{
		"a b":                         "a b",
		"--from=x a b":                "a b",
		"--chown=\"a b\" --chmod=1 c": "c",
		`--x=a\ b c`:                  "c",
		"-- --not-a-flag":             "--not-a-flag",
		"--only":                      "",
	} {
		if got := skipFlags(in, '\\'); got != want {
			t.Errorf("skipFlags(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBuildKitCorpus runs Parse over BuildKit's own parser test corpus
// (frontend/dockerfile/parser/testfiles in the module cache): every file
// is either read, with the instructions BuildKit's expected result lists,
// or refused for one of our own rules (an instruction or flag ctrkit does
// not know, an instruction before FROM); every file of the negative corpus
// is refused.
func TestBuildKitCorpus(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/moby/buildkit").Output()
	dir := filepath.Join(strings.TrimSpace(string(out)), "frontend", "dockerfile", "parser")
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Skipf("BuildKit's module is not in the module cache (go list -m: %v)", err)
	}
	cases, _ := filepath.Glob(filepath.Join(dir, "testfiles", "*", "Dockerfile"))
	if len(cases) < 20 {
		t.Fatalf("found %d corpus files under %s, want the whole corpus", len(cases), dir)
	}
	ours := regexp.MustCompile(`needs arguments|unknown instruction|does not take the flag|before the first FROM|flag "--[a-z-]+": want`)
	read, refused := 0, 0
	for _, file := range cases {
		name := filepath.Base(filepath.Dir(file))
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		result, err := os.ReadFile(filepath.Join(filepath.Dir(file), "result"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(bytes.NewReader(data), name); err != nil && !ours.MatchString(err.Error()) {
			t.Errorf("Parse(%s) = %v, want it read (or refused by one of ctrkit's rules)", name, err)
		}
		// Instruction by instruction, so a file refused for one line (or
		// for a CMD before FROM) still checks the others.
		res, err := parser.Parse(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("parser.Parse(%s): %v", name, err)
		}
		lines := strings.Split(strings.TrimSpace(string(result)), "\n")
		if len(lines) != len(res.AST.Children) {
			t.Fatalf("parser.Parse(%s): %d nodes, its result has %d lines", name, len(res.AST.Children), len(lines))
		}
		for i, n := range res.AST.Children {
			in, err := instruction(n, res.EscapeToken)
			if err != nil {
				if !ours.MatchString(err.Error()) {
					t.Errorf("%s:%d: %v, want it read (or refused by one of ctrkit's rules)", name, n.StartLine, err)
				}
				refused++
				continue
			}
			read++
			cmd, rest, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(lines[i], "("), ")"), " ")
			if !strings.EqualFold(cmd, in.Cmd) {
				t.Errorf("%s:%d: Cmd = %s, BuildKit's result says %s", name, in.Line, in.Cmd, cmd)
			}
			if strings.HasPrefix(rest, "[") && len(in.Flags) > 0 {
				_, rest, _ = strings.Cut(rest, "] ")
			}
			// the shell form of these is one string: our Args exactly
			if !in.IsJSON && (in.Cmd == "RUN" || in.Cmd == "CMD" || in.Cmd == "ENTRYPOINT") {
				if want, err := strconv.Unquote(rest); err != nil || want != in.Args {
					t.Errorf("%s:%d: Args = %q, BuildKit's result has %s", name, in.Line, in.Args, rest)
				}
			}
			var want []string
			for _, q := range regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).FindAllString(rest, -1) {
				w, _ := strconv.Unquote(q)
				want = append(want, w)
			}
			if in.IsJSON {
				if d := cmp.Diff(want, in.JSON, cmpopts.EquateEmpty()); d != "" {
					t.Errorf("%s:%d: JSON mismatch (-BuildKit +ours):\n%s", name, in.Line, d)
				}
			} else if in.Cmd == "COPY" || in.Cmd == "ADD" || in.Cmd == "FROM" || in.Cmd == "EXPOSE" {
				// BuildKit splits these at blanks: so do our Args
				if d := cmp.Diff(want, strings.Fields(in.Args)); d != "" {
					t.Errorf("%s:%d: words of Args mismatch (-BuildKit +ours):\n%s", name, in.Line, d)
				}
			}
		}
	}
	if read < 10*refused {
		t.Errorf("read %d instructions of the corpus and refused %d, want most of them read", read, refused)
	}
	negative, _ := filepath.Glob(filepath.Join(dir, "testfiles-negative", "*", "Dockerfile"))
	for _, file := range negative {
		data, _ := os.ReadFile(file)
		if _, err := Parse(bytes.NewReader(data), file); err == nil {
			t.Errorf("Parse(%s) = nil error, want one (BuildKit's negative corpus)", file)
		}
	}
	t.Logf("%d corpus files: %d instructions read, %d refused by our rules; %d negative files refused", len(cases), read, refused, len(negative))
}

func TestExpand(t *testing.T) {
	vars := EnvLookup([]string{"A=1", "B=two words"})
	for in, want := range map[string]string{
		"a $A ${B}\n":            "a 1 two words\n",
		`"$A" '$A'`:              `"1" '1'`,
		`\$A \\$A \n`:            `$A \1 \n`,
		"${UNSET:-x} cost$ 5\n":  "x cost$ 5\n",
		"no variables at all\n":  "no variables at all\n",
		"${A:+set}${UNSET+set}.": "set.",
	} {
		if got, err := Expand(in, vars, '\\'); err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := Expand("${A", vars, '\\'); err == nil {
		t.Errorf("Expand(%q) = nil error, want one", "${A")
	}
}
