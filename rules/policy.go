package rules

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"unicode"
)

// A policy dismisses findings by where their file sits. Given the file's
// location chain (and the scan's options) it says, cheaply, whether it has
// anything to say about the file: nil if not, else the judge of each of
// its findings, which returns why the finding is no finding, or "".
type policy func(chain []string, opts ScanOptions) func(f *Finding, r Rule) string

// policies run in order over the findings a file kept after dedupe; a
// finding one of them dismisses is not shown to the next.
var policies = []policy{messageBundles, documentation, dependencyTests}

// judge applies the policies to one file's result.
func (e *Engine) judge(chain []string, opts ScanOptions, r *Result) {
	for _, p := range policies {
		if len(r.Findings) == 0 {
			return
		}
		if why := p(chain, opts); why != nil {
			suppress(r, func(f Finding) string { return why(&f, e.rules[f.RuleID]) })
		}
	}
}

// dependencyTests: the test resources of a third-party dependency are its
// own fixtures, not the application's secrets; reported only when asked.
func dependencyTests(chain []string, opts ScanOptions) func(*Finding, Rule) string {
	if opts.IncludeDependencyTests {
		return nil
	}
	reason := dependencyTest(chain)
	if reason == "" {
		return nil
	}
	return func(*Finding, Rule) string { return reason }
}

// testResource matches the members of a dependency jar that are its own
// tests, fixtures or examples.
var testResource = regexp.MustCompile(`(?i)(?:^|/)(?:src/test|test|tests|testdata|test-data|test-resources|test-classes|testing|fixtures?|examples?|samples?)/|(?:^|/)[^/]*[-_.]tests?\.[a-z]+$`)

// dependencyTest explains why a finding in chain sits in a third-party
// dependency's test resources (a file under test/, fixtures/, examples/ …
// inside a jar that an application bundles in BOOT-INF/lib, WEB-INF/lib or
// lib/, or that lives in a Maven repository or /usr/share/java); "" if not.
func dependencyTest(chain []string) string {
	if len(chain) < 2 {
		return ""
	}
	for i := 0; i < len(chain)-1; i++ {
		dep := chain[i]
		isDep := strings.Contains(dep, "BOOT-INF/lib/") || strings.Contains(dep, "WEB-INF/lib/") ||
			strings.HasPrefix(dep, "lib/") || strings.Contains(dep, "/.m2/repository/") || strings.HasPrefix(dep, "/usr/share/java/")
		if isDep && strings.HasSuffix(strings.ToLower(dep), ".jar") && testResource.MatchString(chain[len(chain)-1]) {
			return fmt.Sprintf("test resource of the dependency %s (--include-dependency-tests to report)", path.Base(dep))
		}
	}
	return ""
}

// messageBundles: in a Java message bundle, values are UI text.
func messageBundles(chain []string, _ ScanOptions) func(*Finding, Rule) string {
	if !isBundle(innermost(chain)) {
		return nil
	}
	return func(f *Finding, _ Rule) string {
		if isNaturalLanguage(f.Secret) {
			return "label in a message bundle"
		}
		return ""
	}
}

// documentation: documentation puts placeholders where secrets go, and
// examples of random-looking strings.
func documentation(chain []string, _ ScanOptions) func(*Finding, Rule) string {
	if !isDocumentation(innermost(chain)) {
		return nil
	}
	return func(f *Finding, r Rule) string {
		if docPlaceholders[strings.ToLower(f.Secret)] || r.Specificity == SpecificityEntropy {
			return "placeholder in documentation"
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

// isNaturalLanguage reports text made of letters, spaces and punctuation
// only, as labels are ("Mot de passe", "Contraseña:").
func isNaturalLanguage(s string) bool {
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsSpace(r) || strings.ContainsRune(".,:;!?'\"()-…{}[]", r):
		default:
			return false
		}
	}
	return letters > 0
}

// docPlaceholders are values that documentation puts where a secret goes.
var docPlaceholders = map[string]bool{
	"changeme": true, "change-me": true, "change_me": true, "changeit": true, "password": true, "secret": true,
	"example": true, "foobar": true, "dummy": true, "test": true, "placeholder": true, "replace-me": true,
	"your-password": true, "yourpassword": true, "your_password": true, "mypassword": true, "mysecret": true,
	"xxx": true, "xxxx": true, "xxxxxx": true, "pass": true, "passw0rd": true, "p@ssw0rd": true, "s3cr3t": true,
}

// isDocumentation reports files that document rather than configure:
// /usr/share/doc, man and info pages, Markdown, reStructuredText,
// AsciiDoc, HTML, READMEs. A plain .txt is not documentation by its name
// alone: teams write secrets into notes and credentials.txt files.
func isDocumentation(name string) bool {
	for _, d := range []string{"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/gtk-doc/"} {
		if strings.Contains(name, d) {
			return true
		}
	}
	base := strings.ToLower(path.Base(name))
	for _, ext := range []string{".md", ".markdown", ".rst", ".adoc", ".asciidoc", ".html", ".htm"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return strings.HasPrefix(base, "readme") || strings.HasPrefix(base, "changelog") || strings.HasPrefix(base, "changes")
}
