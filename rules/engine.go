package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/peelscan/peel/rules/internal/gitleaks"
	"github.com/peelscan/peel/rules/internal/textscan"
)

// rulesetVersion changes whenever peel's own detectors change what they
// report, so that cached results keyed by it are not reused.
const rulesetVersion = "peel-rules-5"

// GitleaksPrefix starts the peel rule ID of each gitleaks rule.
const GitleaksPrefix = "gitleaks."

// EngineOptions configure an Engine.
type EngineOptions struct {
	// GitleaksConfig is a .gitleaks.toml (rules, allowlists, [extend]);
	// nil means gitleaks' default rules.
	GitleaksConfig []byte
	// NoGitleaks turns gitleaks' catalogue off, leaving peel's own
	// detectors.
	NoGitleaks bool
}

// Engine runs every detector over files, build commands and image config
// entries. It is safe for concurrent use.
type Engine struct {
	gl      *gitleaks.Engine // nil with NoGitleaks
	glRules map[string]Rule
	version string
}

// NewEngine builds an engine; a gitleaks config that does not parse is an
// error.
func NewEngine(opts EngineOptions) (*Engine, error) {
	h := sha256.New()
	h.Write([]byte(rulesetVersion))
	e := &Engine{glRules: map[string]Rule{}}
	if !opts.NoGitleaks {
		gl, err := gitleaks.New(opts.GitleaksConfig)
		if err != nil {
			return nil, err
		}
		e.gl = gl
		h.Write(gl.Config())
		for _, r := range gl.Rules() {
			e.glRules[GitleaksPrefix+r.ID] = gitleaksRule(r)
		}
	}
	e.version = hex.EncodeToString(h.Sum(nil))[:16]
	return e, nil
}

var defaultEngine = sync.OnceValues(func() (*Engine, error) { return NewEngine(EngineOptions{}) })

// DefaultEngine returns the shared engine with gitleaks' default rules.
func DefaultEngine() (*Engine, error) { return defaultEngine() }

// gitleaksRule maps a gitleaks rule to peel's catalogue: provider keys in
// their live format are critical, the generic high-entropy rule low, and a
// team's own rules high; a "severity:NAME" tag overrides.
func gitleaksRule(r gitleaks.Rule) Rule {
	sev := SeverityCritical
	switch {
	case r.Generic:
		sev = SeverityLow
	case !r.Builtin:
		sev = SeverityHigh
	}
	for _, t := range r.Tags {
		if name, ok := strings.CutPrefix(t, "severity:"); ok {
			if s, err := ParseSeverity(name); err == nil && s != SeverityNone {
				sev = s
			}
		}
	}
	description := r.Description
	if description == "" {
		description = "Matches gitleaks rule " + r.ID + "."
	}
	return Rule{
		ID:          GitleaksPrefix + r.ID,
		Title:       strings.TrimSuffix(description, "."),
		Description: description + " (gitleaks rule " + r.ID + ")",
		Remediation: rotate,
		Severity:    sev,
	}
}

// Version identifies the engine's rules: peel's detectors and the gitleaks
// config in use. Results cached under one version are stale under another.
func (e *Engine) Version() string { return e.version }

// Rule returns the catalogue entry of a rule ID, peel's own or gitleaks'.
func (e *Engine) Rule(id string) (Rule, bool) {
	if r, ok := catalogue[id]; ok {
		return r, true
	}
	r, ok := e.glRules[id]
	return r, ok
}

// Rules returns every rule the engine can report, sorted by ID.
func (e *Engine) Rules() []Rule {
	out := All()
	for _, r := range e.glRules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// IsText reports whether a file's first bytes look like text: no NUL byte
// and valid UTF-8 (a cut rune at the end allowed), or Latin-1 without
// control characters.
func IsText(head []byte) bool { return textscan.IsText(head) }

// ScanFile runs every detector that applies to a text file. name is its
// path (the innermost member's, with its directories) and decides the
// structured detectors: properties, YAML, .env, INI, XML, JSON, .netrc,
// .pgpass. Private keys, URL credentials and gitleaks' catalogue apply to
// every file.
func (e *Engine) ScanFile(name string, data []byte) Result {
	var c collector
	switch ConfigFormat(name) {
	case FormatProperties:
		scanProperties(data, &c)
	case FormatYAML:
		scanYAML(data, &c)
	case FormatKeyValue:
		scanKeyValueLines(data, &c)
	case FormatXML:
		scanXML(data, &c)
	case FormatJSON:
		scanJSON(name, data, &c)
	case FormatNetrc:
		scanNetrc(data, &c)
	case FormatPgpass:
		scanPgpass(data, &c)
	}
	scanPrivateKeys(data, strings.Contains(name, ".docker/trust/private/"), &c)
	scanURLs(data, &c)
	e.gitleaks(name, data, &c)
	r := c.finish()
	r.Findings = dedupe(r.Findings)
	if isBundle(name) {
		suppress(&r, func(f Finding) string {
			if isNaturalLanguage(f.Secret) {
				return "label in a message bundle"
			}
			return ""
		})
	}
	if isDocumentation(name) {
		suppress(&r, func(f Finding) string {
			if docPlaceholders[strings.ToLower(f.Secret)] || strings.HasPrefix(f.RuleID, GitleaksPrefix+"generic") {
				return "placeholder in documentation"
			}
			return ""
		})
	}
	return r
}

// ScanCommand runs the build-step detectors over one history entry's
// created_by; findings are on line 1.
func (e *Engine) ScanCommand(cmd string) Result {
	var c collector
	scanCommand(cmd, &c)
	scanURLs([]byte(cmd), &c)
	e.gitleaks("", []byte(cmd), &c)
	r := c.finish()
	r.Findings = dedupe(r.Findings)
	return r
}

// ScanAssignment judges one KEY=VALUE of the image config (Env, Labels).
func (e *Engine) ScanAssignment(key, value string) Result {
	var c collector
	c.keyValue(RuleImageConfigSecret, key, value, 0)
	scanURLs([]byte(value), &c)
	e.gitleaks("", []byte(key+"="+value), &c)
	for i := range c.Findings {
		c.Findings[i].Line = 0
		if c.Findings[i].Key == "" {
			c.Findings[i].Key = key
		}
	}
	r := c.finish()
	r.Findings = dedupe(r.Findings)
	return r
}

// gitleaks runs gitleaks' rules over a file.
func (e *Engine) gitleaks(name string, data []byte, c *collector) {
	if e.gl == nil {
		return
	}
	for _, f := range e.gl.Scan(name, data, nil) {
		id := GitleaksPrefix + f.RuleID
		c.add(Finding{RuleID: id, Severity: e.glRules[id].Severity, Line: f.Line, Secret: f.Secret})
	}
}

// specificity ranks how much a rule knows about what it matched: peel's
// key and keystore detectors parse the thing; a gitleaks provider rule
// knows the token's issuer; peel's config rules know only the key's name;
// gitleaks' generic rule knows only entropy.
func specificity(ruleID string) int {
	switch {
	case ruleID == RulePrivateKey, ruleID == RulePrivateKeyEncrypted, ruleID == RuleContentTrustKey,
		ruleID == RuleKeystoreVerified, ruleID == RuleKeystorePrivateKey, ruleID == RuleDockerConfigAuth:
		return 3
	case strings.HasPrefix(ruleID, GitleaksPrefix+"generic"):
		return 0
	case strings.HasPrefix(ruleID, GitleaksPrefix):
		return 2
	}
	return 1
}

// dedupe keeps one finding per secret per line: when two rules hit the same
// bytes (one secret containing the other, line breaks aside), the more
// specific rule's finding stays, then the more severe, then the first.
func dedupe(fs []Finding) []Finding {
	if len(fs) < 2 {
		return fs
	}
	out := make([]Finding, 0, len(fs))
	byLine := map[int][]int{}
	for _, f := range fs {
		merged := false
		for _, i := range byLine[f.Line] {
			// An entropy-only hit adds nothing to a line a more specific
			// rule has already reported.
			if specificity(f.RuleID) == 0 && specificity(out[i].RuleID) > 0 {
				merged = true
				break
			}
			o := &out[i]
			if !overlaps(o.Secret, f.Secret) {
				continue
			}
			fs, os := specificity(f.RuleID), specificity(o.RuleID)
			if fs > os || fs == os && f.Severity > o.Severity {
				if f.Key == "" {
					f.Key = o.Key
				}
				f.Refers = append(f.Refers, o.Refers...)
				*o = f
			}
			merged = true
			break
		}
		if !merged {
			byLine[f.Line] = append(byLine[f.Line], len(out))
			out = append(out, f)
		}
	}
	return out
}

func overlaps(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	if strings.Contains(a, b) || strings.Contains(b, a) {
		return true
	}
	a, b = stripSpace(a), stripSpace(b)
	return strings.Contains(a, b) || strings.Contains(b, a)
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
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
// AsciiDoc, READMEs.
func isDocumentation(name string) bool {
	for _, d := range []string{"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/gtk-doc/"} {
		if strings.Contains(name, d) {
			return true
		}
	}
	base := strings.ToLower(path.Base(name))
	for _, ext := range []string{".md", ".markdown", ".rst", ".adoc", ".asciidoc", ".txt", ".html", ".htm"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return strings.HasPrefix(base, "readme") || strings.HasPrefix(base, "changelog") || strings.HasPrefix(base, "changes")
}
