package cli

import (
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// narrowed is a grammar cut down to the root's flags and the one verb the
// arguments select: kong reflects over every flag of every verb to build
// its model, which is a third of a command's start-up (~5 ms and ~200 page
// faults of ~600; a container starts seven Go processes). It is kong
// itself that parses the cut grammar, so the result is the same; commit
// copies what it parsed back into the whole grammar.
type narrowed struct {
	grammar any // a pointer to the cut struct, for kong
	commit  func()
}

// narrow cuts grammar (a pointer to a struct of flags and `cmd:""` verbs)
// for args, or returns nil when the verb is not certain: no arguments,
// -h/--help, a name that does not tell kong's (several words and no name
// tag), or a word that may select a verb other than the default one. The
// whole grammar serves those cases, and every usage error (Parse parses
// again), so help and messages do not change.
func narrow(grammar any, args []string) *narrowed {
	whole := reflect.ValueOf(grammar).Elem()
	t := whole.Type()
	rootFlags, verbs := map[string]bool{}, map[string]int{} // flag → takes a value; verb name → field
	def := -1
	var keep []int // the root's fields
	for i := range t.NumField() {
		f := t.Field(i)
		if _, ok := f.Tag.Lookup("cmd"); !ok {
			if !flagsOf(f, rootFlags) {
				return nil
			}
			keep = append(keep, i)
			continue
		}
		name, ok := kongName(f)
		if !ok {
			return nil
		}
		verbs[name] = i
		if a := f.Tag.Get("aliases"); a != "" {
			for _, alias := range strings.Split(a, ",") {
				verbs[strings.TrimSpace(alias)] = i
			}
		}
		if f.Tag.Get("default") != "" {
			def = i
		}
	}
	words := args
	if end := slices.Index(args, "--"); end >= 0 {
		words = args[:end]
	}
	if len(args) == 0 || slices.ContainsFunc(words, func(a string) bool { return a == "-h" || a == "--help" || strings.HasPrefix(a, "--help=") }) {
		return nil
	}
	verb := def
scan:
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case strings.HasPrefix(w, "--"):
			name, _, hasValue := strings.Cut(w[2:], "=")
			takesValue, known := rootFlags[name]
			if !known {
				break scan // a verb's flag: only the default verb can take it first
			}
			if takesValue && !hasValue {
				i++
			}
		case strings.HasPrefix(w, "-") && w != "-":
			break scan
		default:
			if v, ok := verbs[w]; ok {
				verb = v
			}
			break scan
		}
	}
	if verb < 0 {
		return nil
	}
	if verb == def {
		// Any word that names another verb might select it: kong decides.
		for _, w := range words {
			if v, ok := verbs[w]; ok && v != def {
				return nil
			}
		}
	}
	fields := make([]reflect.StructField, 0, len(keep)+1)
	for _, i := range append(keep, verb) {
		f := t.Field(i)
		if f.Anonymous { // reflect.StructOf cannot promote methods: kong's embed flattens the same
			f.Anonymous = false
			f.Tag = reflect.StructTag(strings.TrimSpace(`embed:"" ` + string(f.Tag)))
		}
		fields = append(fields, reflect.StructField{Name: f.Name, Type: f.Type, Tag: f.Tag})
	}
	cut := reflect.New(reflect.StructOf(fields))
	return &narrowed{grammar: cut.Interface(), commit: func() {
		for j, i := range append(keep, verb) {
			whole.Field(i).Set(cut.Elem().Field(j))
		}
	}}
}

// flagsOf adds the flags field f declares (an embedded struct's, flattened)
// to flags, each with whether it takes a value; false if a name is not
// certain.
func flagsOf(f reflect.StructField, flags map[string]bool) bool {
	if f.Anonymous || f.Tag.Get("embed") != "" {
		for i := range f.Type.NumField() {
			if !flagsOf(f.Type.Field(i), flags) {
				return false
			}
		}
		return true
	}
	if !f.IsExported() || f.Tag.Get("kong") == "-" {
		return true
	}
	if _, ok := f.Tag.Lookup("arg"); ok {
		return false // a positional argument of the root: no verb is certain
	}
	name, ok := kongName(f)
	if !ok {
		return false
	}
	// A short name (-x) needs nothing: the scan stops at the first word
	// with a single dash, and kong decides from there.
	flags[name] = f.Type.Kind() != reflect.Bool
	return true
}

// kongName is the name kong gives field f: its name tag, or the field's
// name in lower case when it is one word (kong splits CamelCase into
// dashed words; those are not followed here).
func kongName(f reflect.StructField) (string, bool) {
	if n := f.Tag.Get("name"); n != "" {
		return n, true
	}
	for _, r := range f.Name[1:] {
		if unicode.IsUpper(r) {
			return "", false
		}
	}
	return strings.ToLower(f.Name), true
}
