package rules

import (
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// A policy dismisses findings by where their file sits. Given the file
// (its location chain and bytes) and the scan's options it says, cheaply,
// whether it has anything to say about the file: nil if not, else the
// judge of each of its findings, which returns why the finding is no
// finding, or "".
type policy func(f *File, opts ScanOptions) func(fd *Finding, r Rule) string

// policies run in order over the findings a file kept after dedupe; a
// finding one of them dismisses is not shown to the next, so the first
// reason that applies is the one given.
var policies = []policy{wellKnownValues, messageBundles, documentation, apiModels, dependencyTests, dependencyDocs}

// judge applies the policies to one file's result.
func (e *Engine) judge(f *File, opts ScanOptions, r *Result) {
	for _, p := range policies {
		if len(r.Findings) == 0 {
			return
		}
		if why := p(f, opts); why != nil {
			suppress(r, func(fd Finding) string { return why(&fd, e.rules[fd.RuleID]) })
		}
	}
}

// wellKnownValues: values that standards and vendors publish open nothing.
func wellKnownValues(f *File, _ ScanOptions) func(*Finding, Rule) string {
	return func(fd *Finding, _ Rule) string { return wellKnown(f.Path, fd) }
}

// dependencyTests: the test resources of a third-party dependency are its
// own fixtures, not the application's secrets; reported only when asked.
func dependencyTests(f *File, opts ScanOptions) func(*Finding, Rule) string {
	if opts.IncludeDependencyTests {
		return nil
	}
	reason := dependencyTest(f.Path)
	if reason == "" {
		return nil
	}
	return func(*Finding, Rule) string { return reason }
}

// dependencyDocs: in a dependency's source, what its doc comments and
// docstrings show are examples (mongoose's
// "mongodb://val:psw@127.0.0.1/mydb", SQLAlchemy's connection URLs), as
// are the values of declarations: TypeScript's .d.ts files (@types/node),
// the C headers an installed library puts under /usr/include (LLVM's
// tables of intrinsic names). Keys that parse and live-format provider
// tokens stay findings.
func dependencyDocs(f *File, _ ScanOptions) func(*Finding, Rule) string {
	dep, ok := dependencyOf(f.Path)
	if !ok {
		return nil
	}
	name := f.Name()
	if hasSuffixFold(name, ".d.ts") || strings.Contains(f.Path[0], "usr/include/") || strings.Contains(f.Path[0], "usr/local/include/") {
		return func(fd *Finding, r Rule) string {
			if exampleProne(fd, r) {
				return "example in the type declarations of the dependency " + dep.name
			}
			return ""
		}
	}
	inDocs := docComments(name, f.Data)
	if inDocs == nil {
		return nil
	}
	return func(fd *Finding, r Rule) string {
		if exampleProne(fd, r) && inDocs(fd.Line) {
			return "example in a doc comment of the dependency " + dep.name
		}
		return ""
	}
}

// exampleProne reports the findings that documentation's examples make:
// everything but a private key or keystore that parses (peel's own
// parsing rules) and a provider's token in its live format, save the
// provider rules whose matches are examples by nature in documentation
// (a JWT, curl -u user:password).
func exampleProne(_ *Finding, r Rule) bool {
	switch r.Specificity {
	case SpecificityParsed:
		return false
	case SpecificityIssuer:
		return exampleRules[r.ID]
	}
	return true
}

// exampleRules are provider rules whose hits in documentation are its
// examples: a sample JWT, a curl command line.
var exampleRules = map[string]bool{
	GitleaksPrefix + "jwt": true, GitleaksPrefix + "jwt-base64": true,
	GitleaksPrefix + "curl-auth-user": true, GitleaksPrefix + "curl-auth-header": true,
}

// sdkModels are the API descriptions SDKs ship as JSON (botocore's and
// aws-sdk's service models, paginators, waiters and examples; Google's
// discovery documents): names of request fields and examples of values,
// not configuration.
var sdkModels = regexp.MustCompile(`(?:^|/)(?:botocore/data|boto3/data|aws-sdk/apis|googleapiclient/discovery_cache/documents)/`)

// apiModels: an SDK's API descriptions hold field names (input_token:
// NextToken) and its API reference's examples, not anyone's settings.
func apiModels(f *File, _ ScanOptions) func(*Finding, Rule) string {
	if !hasSuffixFold(f.Name(), ".json") || !slices.ContainsFunc(f.Path, sdkModels.MatchString) {
		return nil
	}
	reason := "API model of an SDK (service shapes, paginators, waiters), not configuration"
	if strings.Contains(strings.ToLower(path.Base(f.Name())), "examples") {
		reason = "example in an SDK's API documentation (examples.json)"
	}
	return func(fd *Finding, r Rule) string {
		if exampleProne(fd, r) {
			return reason
		}
		return ""
	}
}

// messageBundles: in a Java message bundle, values are UI text.
func messageBundles(f *File, _ ScanOptions) func(*Finding, Rule) string {
	if !isBundle(f.Name()) {
		return nil
	}
	return func(fd *Finding, _ Rule) string {
		if isMessageText(fd.Secret) {
			return "label in a message bundle"
		}
		return ""
	}
}

// documentation: what documentation shows are examples, whatever the rule
// that matched them (a placeholder password, a sample JWT, a curl -u
// line, a URL with credentials); a key that parses and a provider token
// in its live format stay findings.
func documentation(f *File, _ ScanOptions) func(*Finding, Rule) string {
	if !isDocumentation(f.Path) {
		return nil
	}
	return func(fd *Finding, r Rule) string {
		if docPlaceholders[strings.ToLower(fd.Secret)] {
			return "placeholder in documentation"
		}
		if exampleProne(fd, r) {
			return "example in documentation"
		}
		return ""
	}
}

// suppress moves findings for which why returns a reason to the dismissals.
func suppress(r *Result, why func(Finding) string) {
	kept := r.Findings[:0]
	for _, f := range r.Findings {
		if reason := why(f); reason != "" {
			r.Dismissed = append(r.Dismissed, Dismissal{RuleID: f.RuleID, Line: f.Line, Key: f.Key, Reason: reason})
			continue
		}
		kept = append(kept, f)
	}
	r.Findings = kept
}

var bundleName = regexp.MustCompile(`(?i)^(?:messages|labels|strings|localstrings|.*(?:resources|bundle|messages|strings))(?:_[a-z]{2,3}(?:_[a-z]{2})?)?\.properties$|_[a-z]{2}(?:_[A-Z]{2})?\.properties$`)

// isBundle reports Java message bundles (messages_fr.properties,
// LocalStrings.properties), whose values are UI text.
func isBundle(name string) bool { return bundleName.MatchString(path.Base(name)) }

// messageArg is a MessageFormat argument ({0}, {1,number}).
var messageArg = regexp.MustCompile(`\{\d+(?:,[^{}]*)?\}`)

// isMessageText reports text as message bundles hold it: letters, blanks,
// punctuation and symbols in any script ("Mot de passe", "パスワード：",
// "当allowedOrigins=[*]时，不允许配置supportsCredentials=[true]。"), with
// MessageFormat arguments ({0}) as words. Digits are allowed in text that
// reads as such (it has blanks or is in a script without them), so that a
// word with digits ("s3cr3t") stays a candidate.
func isMessageText(s string) bool {
	s = messageArg.ReplaceAllString(s, "x")
	letters, digits, sentence := 0, 0, false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
			if r > unicode.MaxLatin1 && !unicode.Is(unicode.Latin, r) {
				sentence = true // a script such as CJK, written without blanks
			}
		case unicode.IsSpace(r):
			sentence = true
		case unicode.IsDigit(r):
			digits++
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
		default:
			return false
		}
	}
	return letters > 0 && (digits == 0 || sentence)
}

// docPlaceholders are values that documentation puts where a secret goes.
var docPlaceholders = map[string]bool{
	"changeme": true, "change-me": true, "change_me": true, "changeit": true, "password": true, "secret": true,
	"example": true, "foobar": true, "dummy": true, "test": true, "placeholder": true, "replace-me": true,
	"your-password": true, "yourpassword": true, "your_password": true, "mypassword": true, "mysecret": true,
	"xxx": true, "xxxx": true, "xxxxxx": true, "pass": true, "passw0rd": true, "p@ssw0rd": true, "s3cr3t": true,
}

// docDirs are the directories of documentation on a Linux system.
var docDirs = regexp.MustCompile(`(?:^|/)share/(?:doc|man|info|gtk-doc|javadoc|help|devhelp)/`)

// isDocumentation reports files that document rather than configure, by
// their whole location chain: anything under /usr/share/doc, man and info
// pages (a gzipped page is curl.1.gz!curl.1, under /usr/share/man),
// Markdown, reStructuredText, AsciiDoc and HTML files, READMEs, change
// logs, a package's description (Python's PKG-INFO and METADATA), and
// text files that say they are documentation by name or directory. A
// plain .txt is not documentation by its name alone: teams write secrets
// into notes and credentials.txt files.
func isDocumentation(chain []string) bool {
	if slices.ContainsFunc(chain, docDirs.MatchString) {
		return true
	}
	name := innermost(chain)
	base := strings.ToLower(path.Base(name))
	for _, ext := range []string{".md", ".markdown", ".rst", ".adoc", ".asciidoc", ".html", ".htm", ".rdoc", ".textile", ".pod"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	for _, p := range []string{"readme", "changelog", "changes", "news", "history", "license", "copying", "notice", "authors"} {
		if strings.HasPrefix(base, p) {
			return true
		}
	}
	if base == "pkg-info" || base == "metadata" && strings.HasSuffix(path.Dir(name), ".dist-info") {
		return true
	}
	if strings.HasSuffix(base, ".txt") {
		for _, d := range []string{"/doc/", "/docs/", "/man/"} {
			if strings.Contains("/"+name, d) {
				return true
			}
		}
	}
	return false
}
