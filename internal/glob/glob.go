// Package glob compiles the location globs peel's users write, in ignore
// files (.peelignore) and in --skip-files and --skip-dirs: "*" stays
// within a path segment and an archive member, "**" crosses both, "?" is
// one character of a segment; everything else stands for itself.
package glob

import (
	"fmt"
	"regexp"
	"strings"
)

// Compile turns a glob into a regexp matching whole location chains
// (members joined with "!").
func Compile(g string) (*regexp.Regexp, error) {
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; {
		case c == '*' && i+1 < len(g) && g[i+1] == '*':
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/!]*")
		case c == '?':
			b.WriteString("[^/!]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("bad glob %q: %w", g, err)
	}
	return re, nil
}
