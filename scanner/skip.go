package scanner

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/peelscan/peel/internal/glob"
)

// skipper decides which files a scan does not read at all: those whose
// location matches a SkipFiles glob, and those under a directory that
// matches a SkipDirs glob. Globs are those of ignore files (see
// internal/glob), matched against the location as reports show it, with
// with or without a leading "/": "usr/share/doc" and "/usr/share/doc" are
// the same directory, and "**/*.jar" matches a jar at the top too.
type skipper struct {
	files, dirs []*regexp.Regexp
}

// newSkipper compiles the globs; nil when there are none.
func newSkipper(files, dirs []string) (*skipper, error) {
	if len(files) == 0 && len(dirs) == 0 {
		return nil, nil
	}
	s := &skipper{}
	for _, set := range []struct {
		globs []string
		out   *[]*regexp.Regexp
		flag  string
	}{{files, &s.files, "--skip-files"}, {dirs, &s.dirs, "--skip-dirs"}} {
		for _, g := range set.globs {
			re, err := glob.Compile(g)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", set.flag, err)
			}
			*set.out = append(*set.out, re)
		}
	}
	return s, nil
}

// CheckSkipGlobs reports a glob of Options.SkipFiles or SkipDirs that does
// not compile, so that a command line can refuse it before scanning.
func CheckSkipGlobs(files, dirs []string) error {
	_, err := newSkipper(files, dirs)
	return err
}

func trimRoot(p string) string {
	for {
		switch {
		case strings.HasPrefix(p, "/"):
			p = p[1:]
		case strings.HasPrefix(p, "./"):
			p = p[2:]
		default:
			return p
		}
	}
}

// file reports whether the file at chain is skipped: its location matches
// a file glob, or one of its directories a directory glob (for a member
// of an archive, its directories inside the archive count alone and
// joined to the chain before them).
func (s *skipper) file(chain []string) bool {
	if s == nil {
		return false
	}
	loc := trimRoot(strings.Join(chain, "!"))
	for _, re := range s.files {
		if rooted(re, loc) {
			return true
		}
	}
	if len(s.dirs) == 0 {
		return false
	}
	prefix := ""
	for i, elem := range chain {
		if i == 0 {
			elem = trimRoot(elem)
		} else {
			prefix += "!"
		}
		for j := 0; j < len(elem); j++ {
			if elem[j] != '/' {
				continue
			}
			if s.dirMatch(prefix+elem[:j]) || i > 0 && s.dirMatch(elem[:j]) {
				return true
			}
		}
		prefix += elem
	}
	return false
}

// dir reports whether a directory of a dir: scan is skipped, so that it is
// not even listed.
func (s *skipper) dir(p string) bool {
	return s != nil && s.dirMatch(trimRoot(p))
}

func (s *skipper) dirMatch(d string) bool {
	for _, re := range s.dirs {
		if rooted(re, d) {
			return true
		}
	}
	return false
}

// rooted matches a path given without its leading "/" with and without it.
func rooted(re *regexp.Regexp, p string) bool {
	return re.MatchString(p) || re.MatchString("/"+p)
}

// SkipFunc is the test a scan with these globs applies to a path of a
// dir: scan (dir set for a directory), for a caller that counts ahead what
// the scan will read; nil when there are no globs, or one does not
// compile (the scan reports it).
func SkipFunc(files, dirs []string) func(p string, dir bool) bool {
	s, err := newSkipper(files, dirs)
	if s == nil || err != nil {
		return nil
	}
	return func(p string, dir bool) bool {
		if dir {
			return s.dir(p)
		}
		return s.file([]string{p})
	}
}
