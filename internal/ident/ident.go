// Package ident checks names as docker does for containers, volumes and
// networks: a letter or digit, then letters, digits, '_', '.' or '-'. One
// loop, not a regexp: a bounded repetition such as {0,127} compiles into a
// program of that many copies, which a command would build at every start.
package ident

// Valid tells whether s is such a name of at most max bytes (0: any length).
func Valid(s string, max int) bool {
	if s == "" || max > 0 && len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return true
}
