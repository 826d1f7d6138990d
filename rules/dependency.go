package rules

import (
	"bytes"
	"path"
	"regexp"
	"strings"
)

// Third-party code in an image: where a file belongs to a dependency (a
// jar an application bundles, a Python package, an npm package, a Go
// source tree or module, a Ruby gem, …), which of its files are its own
// tests and fixtures, and which of its lines are documentation (doc
// comments and docstrings). Their credentials are the dependency's
// published examples and test keys, not the application's secrets.

// dependency is the third-party package a file belongs to.
type dependency struct {
	name  string // as reasons name it: "twisted", "ssh2", "x.jar"
	inner string // the file's path inside the package
	tests *regexp.Regexp
}

// isTest reports whether the file is one of the dependency's tests,
// fixtures or examples.
func (d dependency) isTest() bool { return d.tests != nil && d.tests.MatchString(d.inner) }

// Test resources, per ecosystem, as paths inside the package.
var (
	// In a jar: its tests, fixtures and examples (not spec/: Java packages
	// such as java/security/spec are code).
	jarTests = regexp.MustCompile(`(?i)(?:^|/)(?:src/test|test|tests|testdata|test-data|test-resources|test-classes|testing|fixtures?|examples?|samples?)/|(?:^|/)[^/]*[-_.]tests?\.[a-z]+$`)
	// In a Python package (and in Python's standard library, whose test
	// suite is Lib/test); urllib3's test servers are its dummyserver.
	pythonTests = regexp.MustCompile(`(?:^|/)(?:tests?|testing|testdata|test_data|idle_test|dummyserver|fixtures?|examples?|samples?)/|(?:^|/)(?:test_[^/]*|[^/]*_tests?|conftest)\.py$`)
	// In an npm package.
	nodeTests = regexp.MustCompile(`(?:^|/)(?:tests?|__tests__|__mocks__|fixtures?|__fixtures__|spec|specs|testdata|examples?|samples?)/|(?:^|/)(?:tests?\.[cm]?[jt]sx?|[^/]+[.\-_](?:test|spec)\.[cm]?[jt]sx?)$`)
	// In a Go source tree or module: what `go build` never reads.
	goTests = regexp.MustCompile(`(?:^|/)testdata/|_test\.go$`)
	// In a Ruby gem.
	rubyTests = regexp.MustCompile(`^(?:spec|test|tests|features|fixtures|examples?)/|/(?:spec|test|fixtures)/`)
	// In other installed software, whatever its language (not spec/, which
	// Java sources use for code).
	installedTests = regexp.MustCompile(`(?:^|/)(?:tests?|testing|testdata|test_data|test-data|__tests__|dummyserver|fixtures?|examples?|samples?)/|(?:^|/)(?:test_[^/]*\.py|[^/]*_tests?\.py|conftest\.py|[^/]*_test\.go)$`)
	// In a Composer package (vendor/ORG/NAME) or a crate of Cargo's
	// registry.
	vendorTests = regexp.MustCompile(`(?i)(?:^|/)(?:tests?|testdata|fixtures?|examples?|benches)/|_test\.go$`)
)

// Package roots: each pattern's first group names the package and its
// second the file's path inside it.
var dependencyRoots = []struct {
	re    *regexp.Regexp
	tests *regexp.Regexp
	name  func(m []string) string
}{
	{regexp.MustCompile(`(?:^|/)(?:site|dist)-packages/([^/]+)/(.+)$`), pythonTests, func(m []string) string { return strings.TrimSuffix(m[1], ".py") }},
	{regexp.MustCompile(`(?:^|/)lib/(python[23](?:\.\d+)?)/(.+)$`), pythonTests, func(m []string) string { return "Python's standard library (" + m[1] + ")" }},
	{regexp.MustCompile(`(?:^|/)node_modules/((?:@[^/]+/)?[^/]+)/(.+)$`), nodeTests, func(m []string) string { return m[1] }},
	{regexp.MustCompile(`(?:^|/)pkg/mod/([^/]+(?:/[^/@]+)*@[^/]+)/(.+)$`), goTests, func(m []string) string { return m[1] }},
	{regexp.MustCompile(`(?:^|/)(?:usr/(?:local|lib|share)|opt)/(go(?:-\d+(?:\.\d+)*)?)/src/(.+)$`), goTests, func(m []string) string { return "Go's source tree (" + m[1] + ")" }},
	{regexp.MustCompile(`(?:^|/)gems/([^/]+-\d[^/]*)/(.+)$`), rubyTests, func(m []string) string { return m[1] }},
	{regexp.MustCompile(`(?:^|/)\.cargo/registry/src/[^/]+/([^/]+)/(.+)$`), vendorTests, func(m []string) string { return m[1] }},
	{regexp.MustCompile(`(?:^|/)vendor/([^/.][^/]*/[^/]+)/(.+)$`), vendorTests, func(m []string) string { return m[1] }},
	{regexp.MustCompile(`(?:^|/)third_party/([^/]+)/(.+)$`), installedTests, func(m []string) string { return m[1] }},
	// Software installed under /usr (its own directory of /usr/lib,
	// /usr/share, …), which packages put there and an application's build
	// does not: the more specific roots above take its language's
	// packages.
	{regexp.MustCompile(`(?:^|/)usr/(?:local/)?(?:lib|lib64|libexec|share|include)/([^/]+)/(.+)$`), installedTests, func(m []string) string { return m[1] }},
}

// dependencyOf returns the dependency a file of chain belongs to, if any:
// a member of a jar that an application bundles (BOOT-INF/lib, WEB-INF/lib,
// lib/, a Maven repository, /usr/share/java), or a file under a package
// root on the file system (the chain's first element: site-packages,
// node_modules, a Go tree, a gem, …; node_modules and site-packages nest,
// so the innermost root wins).
func dependencyOf(chain []string) (dependency, bool) {
	for i := 0; i < len(chain)-1; i++ {
		dep := chain[i]
		isDep := strings.Contains(dep, "BOOT-INF/lib/") || strings.Contains(dep, "WEB-INF/lib/") ||
			strings.HasPrefix(dep, "lib/") || strings.Contains(dep, "/.m2/repository/") || strings.HasPrefix(dep, "/usr/share/java/")
		if isDep && hasSuffixFold(dep, ".jar") {
			return dependency{name: path.Base(dep), inner: innermost(chain), tests: jarTests}, true
		}
	}
	if len(chain) == 0 {
		return dependency{}, false
	}
	p := chain[0]
	if !mayBeDependency(p) {
		return dependency{}, false
	}
	best, at := dependency{}, -1
	for _, r := range dependencyRoots {
		m, start := innermostMatch(r.re, p)
		if m == nil || start <= at {
			continue
		}
		best, at = dependency{name: r.name(m), inner: m[2], tests: r.tests}, start
	}
	if at < 0 {
		return dependency{}, false
	}
	if len(chain) > 1 {
		best.inner += "/" + strings.Join(chain[1:], "/")
	}
	return best, true
}

// rootMarkers are in every path that a root of dependencyRoots matches:
// most files are not third-party code, and are told so without a regexp.
var rootMarkers = []string{"-packages/", "lib/python", "node_modules/", "pkg/mod/", "/src/", "gems/", ".cargo/", "vendor/", "third_party/", "usr/"}

func mayBeDependency(p string) bool {
	for _, m := range rootMarkers {
		if strings.Contains(p, m) {
			return true
		}
	}
	return false
}

// innermostMatch matches re (whose first group names a package, its
// second the rest of the path) at its last possible place in p, as nested
// roots (node_modules in node_modules) need, and returns the groups and
// where the first starts.
func innermostMatch(re *regexp.Regexp, p string) ([]string, int) {
	loc := re.FindStringSubmatchIndex(p)
	if loc == nil {
		return nil, -1
	}
	base := 0
	for {
		from := base + loc[2]
		next := re.FindStringSubmatchIndex(p[from:])
		if next == nil {
			break
		}
		base, loc = from, next
	}
	return []string{p[base+loc[0] : base+loc[1]], p[base+loc[2] : base+loc[3]], p[base+loc[4] : base+loc[5]]}, base + loc[2]
}

// dependencyTest explains why a finding in chain sits in a third-party
// dependency's test resources; "" if it does not.
func dependencyTest(chain []string) string {
	if d, ok := dependencyOf(chain); ok && d.isTest() {
		return "test resource of the dependency " + d.name + " (--include-dependency-tests to report)"
	}
	return ""
}

// docComments returns a function that tells whether a line (1-based) of a
// source file is documentation: a comment or a docstring, as the file's
// language writes them (by its name: Python, JavaScript and TypeScript, Go,
// Java, C, PHP, and the languages of # comments: Ruby, Perl, Tcl,
// shell); nil for other files. It reads the file once, on
// the first question.
func docComments(name string, data []byte) func(line int) bool {
	var style func([]byte) []bool
	switch ext := strings.ToLower(path.Ext(name)); ext {
	case ".py", ".pyi":
		style = pythonDocLines
	case ".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".go", ".java", ".c", ".h", ".cc", ".cpp", ".php", ".swift", ".kt", ".scala", ".rs", ".cs":
		style = cDocLines
	case ".rb", ".pl", ".pm", ".tcl", ".tm", ".sh", ".bash", ".r":
		style = hashDocLines
	default:
		return nil
	}
	var marks []bool
	return func(line int) bool {
		if marks == nil {
			marks = style(data)
		}
		return line >= 1 && line <= len(marks) && marks[line-1]
	}
}

// lines splits data into lines, without their line breaks.
func lines(data []byte) [][]byte {
	ls := bytes.Split(data, []byte{'\n'})
	for i, l := range ls {
		ls[i] = bytes.TrimSuffix(l, []byte{'\r'})
	}
	return ls
}

// pythonDocLines marks comment lines and the lines of text blocks: string
// literals in triple quotes, docstrings and the help texts assigned or
// passed alike (gcloud's detailed_help: 'EXAMPLES': """…""").
func pythonDocLines(data []byte) []bool {
	ls := lines(data)
	marks := make([]bool, len(ls))
	var open string // the delimiter of the triple-quoted string we are in
	for i, l := range ls {
		if open != "" {
			marks[i] = true
			if bytes.Contains(l, []byte(open)) {
				open = ""
			}
			continue
		}
		t := bytes.TrimLeft(l, " \t")
		if bytes.HasPrefix(t, []byte("#")) {
			marks[i] = true
			continue
		}
		at, delim := -1, ""
		for _, d := range []string{`"""`, `'''`} {
			if j := bytes.Index(l, []byte(d)); j >= 0 && (at < 0 || j < at) {
				at, delim = j, d
			}
		}
		if at < 0 {
			continue
		}
		marks[i] = true
		if !bytes.Contains(l[at+3:], []byte(delim)) {
			open = delim
		}
	}
	return marks
}

// cDocLines marks the lines of /* … */ blocks and // comments (a line
// that holds code before its comment is not marked).
func cDocLines(data []byte) []bool {
	ls := lines(data)
	marks := make([]bool, len(ls))
	in := false
	for i, l := range ls {
		t := bytes.TrimLeft(l, " \t")
		switch {
		case in:
			marks[i] = true
			in = !bytes.Contains(l, []byte("*/"))
		case bytes.HasPrefix(t, []byte("//")):
			marks[i] = true
		case bytes.HasPrefix(t, []byte("/*")):
			marks[i] = true
			in = !bytes.Contains(t[2:], []byte("*/"))
		}
	}
	return marks
}

// hashDocLines marks # comment lines, and Ruby's =begin … =end blocks.
func hashDocLines(data []byte) []bool {
	ls := lines(data)
	marks := make([]bool, len(ls))
	in := false
	for i, l := range ls {
		t := bytes.TrimLeft(l, " \t")
		switch {
		case in:
			marks[i] = true
			in = !bytes.HasPrefix(l, []byte("=end"))
		case bytes.HasPrefix(l, []byte("=begin")):
			marks[i], in = true, true
		case bytes.HasPrefix(t, []byte("#")):
			marks[i] = true
		}
	}
	return marks
}
