package dockerfile

import (
	"fmt"
	"strings"
	"unicode"
)

// Lookup returns a variable's value and whether it is set.
type Lookup func(name string) (string, bool)

// Words splits s into words the way Docker reads the arguments of COPY,
// ENV, LABEL, EXPOSE, …: whitespace separates words, 'single quotes' keep
// everything literal, "double quotes" keep whitespace but expand
// variables, the escape character makes the next character literal, and
// $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:+alt}, ${VAR+alt}
// are replaced by their values (an unset variable by nothing).
func Words(s string, vars Lookup, escape rune) ([]string, error) {
	return lex(s, vars, escape, true)
}

// Word is Words without splitting: whitespace is kept as it is (WORKDIR,
// USER, FROM, the value of ENV NAME VALUE).
func Word(s string, vars Lookup, escape rune) (string, error) {
	w, err := lex(s, vars, escape, false)
	if err != nil || len(w) == 0 {
		return "", err
	}
	return w[0], nil
}

func lex(s string, vars Lookup, escape rune, split bool) ([]string, error) {
	rs := []rune(s)
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case split && unicode.IsSpace(r):
			flush()
		case r == escape:
			inWord = true
			if i+1 < len(rs) {
				i++
				cur.WriteRune(rs[i])
			} else {
				cur.WriteRune(r)
			}
		case r == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
		case r == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch {
				case rs[j] == escape && j+1 < len(rs) && strings.ContainsRune("\"$`"+string(escape), rs[j+1]):
					j++
					cur.WriteRune(rs[j])
				case rs[j] == '$':
					v, n, err := variable(rs[j:], vars, escape)
					if err != nil {
						return nil, err
					}
					cur.WriteString(v)
					j += n - 1
				default:
					cur.WriteRune(rs[j])
				}
			}
			if j >= len(rs) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
			i = j
		case r == '$':
			inWord = true
			v, n, err := variable(rs[i:], vars, escape)
			if err != nil {
				return nil, err
			}
			cur.WriteString(v)
			i += n - 1
		default:
			inWord = true
			cur.WriteRune(r)
		}
	}
	flush()
	if !split && len(words) == 0 {
		words = []string{""}
	}
	return words, nil
}

func isNameRune(r rune, first bool) bool {
	return r == '_' || unicode.IsLetter(r) || !first && unicode.IsDigit(r)
}

// variable expands the reference at the start of rs (rs[0] is '$') and
// returns its value and how many runes it took.
func variable(rs []rune, vars Lookup, escape rune) (string, int, error) {
	if len(rs) < 2 {
		return "$", 1, nil
	}
	if rs[1] != '{' {
		j := 1
		for j < len(rs) && isNameRune(rs[j], j == 1) {
			j++
		}
		if j == 1 {
			return "$", 1, nil // a lone $ is itself
		}
		v, _ := vars(string(rs[1:j]))
		return v, j, nil
	}
	// ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word}
	j := 2
	for j < len(rs) && isNameRune(rs[j], j == 2) {
		j++
	}
	name := string(rs[2:j])
	if name == "" {
		return "", 0, fmt.Errorf("bad substitution %q: want ${NAME}", string(rs))
	}
	if j < len(rs) && rs[j] == '}' {
		v, _ := vars(name)
		return v, j + 1, nil
	}
	colon := j < len(rs) && rs[j] == ':'
	if colon {
		j++
	}
	if j >= len(rs) || (rs[j] != '-' && rs[j] != '+') {
		return "", 0, fmt.Errorf("bad substitution %q: only ${NAME:-default} and ${NAME:+alternative} are supported", string(rs))
	}
	op := rs[j]
	j++
	// the word runs to the matching }, and may itself hold variables
	depth, k := 1, j
	for ; k < len(rs); k++ {
		if rs[k] == escape {
			k++
			continue
		}
		if rs[k] == '{' {
			depth++
		}
		if rs[k] == '}' {
			depth--
			if depth == 0 {
				break
			}
		}
	}
	if k >= len(rs) {
		return "", 0, fmt.Errorf("missing } in %q", string(rs))
	}
	word, err := Word(string(rs[j:k]), vars, escape)
	if err != nil {
		return "", 0, err
	}
	v, set := vars(name)
	useWord := false
	switch {
	case op == '-' && colon:
		useWord = v == ""
	case op == '-':
		useWord = !set
	case op == '+' && colon:
		useWord = v != ""
	case op == '+':
		useWord = set
	}
	if op == '+' {
		if useWord {
			return word, k + 1, nil
		}
		return "", k + 1, nil
	}
	if useWord {
		return word, k + 1, nil
	}
	return v, k + 1, nil
}

// EnvLookup makes a Lookup from KEY=VALUE pairs; a later pair wins.
func EnvLookup(env ...[]string) Lookup {
	return func(name string) (string, bool) {
		found, val := false, ""
		for _, list := range env {
			for _, kv := range list {
				if k, v, _ := strings.Cut(kv, "="); k == name {
					found, val = true, v
				}
			}
		}
		return val, found
	}
}

// Expand replaces $VAR and ${VAR…} in the content of a COPY or ADD
// heredoc, the way a shell expands an unquoted here-document: quotes are
// kept as they are, and the escape character keeps a $ (or itself)
// literal; before any other character it is kept too.
func Expand(s string, vars Lookup, escape rune) (string, error) {
	rs := []rune(s)
	var b strings.Builder
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == escape && i+1 < len(rs) && (rs[i+1] == '$' || rs[i+1] == escape):
			i++
			b.WriteRune(rs[i])
		case r == '$':
			v, n, err := variable(rs[i:], vars, escape)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i += n - 1
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}
