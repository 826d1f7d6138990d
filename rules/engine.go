package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
	_ "unsafe" // for go:linkname

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	glconfig "github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"
)

// rulesetVersion changes whenever peel's own detectors change what they
// report, so that cached results keyed by it are not reused.
const rulesetVersion = "peel-rules-6"

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
	groups  []*ruleGroup // gitleaks' rules: provider rules, then generic ones
	glRules map[string]Rule
	version string
	// keywords finds every group's keywords in one pass; inGroup is
	// indexed by its keyword numbers.
	keywords *keywordScanner
	inGroup  [][]bool
	// pathRules detects with gitleaks' rules that have no regexp (they
	// report a file by its path), once per file; nil if there are none.
	pathRules         *detect.Detector
	pathRulesNeedText bool // one of them has keywords, to be found in the text
	// pathAllowlists are gitleaks' global allowlists decided by the path
	// alone, checked once per file (see hoistPathAllowlists).
	pathAllowlists []*glconfig.Allowlist
}

// ruleGroup is a set of gitleaks rules run by one detector, and how its
// keyword hits are gated.
type ruleGroup struct {
	det      *detect.Detector
	generic  bool // gate hits as gitleaks' generic-api-key needs them
	provider bool // gitleaks' own provider rules: gate hits by hitCounts
	// For mayReport: per keyword, the regexps of the rules that have it;
	// whether a rule has no keyword.
	byKeyword [][]*glregexp.Regexp
	always    bool
	// Per keyword: how its hits are gated in a provider group (gatePrefix,
	// gateContext, gateOpen) and, for gatePrefix, the token bytes that
	// must follow it (see keywordUse); how far its windows reach (spanLine,
	// spanAssignment, spanLines: see spanOf) and, for spanLines, the
	// words each of its rules' matches holds (see requiredWords), and
	// whether one of its rules matches within a line; whether one of its
	// rules is gated as gateAssignment.
	assigns []bool
	gates   []uint8
	runs    []int
	spans   []uint8
	needs   [][][]string
	lineToo []bool
	// For the generic gate: the rule's entropy threshold, and the
	// allowlists that drop a secret by itself.
	entropy          float64
	secretAllowlists []*glconfig.Allowlist
	lettersOnly      bool // secretAllowlists drop secrets of letters and "_.-" only
}

var silenceGitleaks sync.Once

// NewEngine builds an engine; a gitleaks config that does not parse is an
// error.
func NewEngine(opts EngineOptions) (*Engine, error) {
	// gitleaks logs to stderr from its library code; peel's library code
	// is silent, so its logger is muted once for the process.
	silenceGitleaks.Do(func() { logging.Logger = zerolog.Nop() })
	h := sha256.New()
	h.Write([]byte(rulesetVersion))
	e := &Engine{glRules: map[string]Rule{}}
	if !opts.NoGitleaks {
		defaults, err := loadGitleaks([]byte(glconfig.DefaultConfig))
		if err != nil {
			return nil, fmt.Errorf("loading gitleaks' default rules: %w", err)
		}
		cfg := defaults
		src := []byte(glconfig.DefaultConfig)
		if opts.GitleaksConfig != nil {
			if cfg, err = loadGitleaks(opts.GitleaksConfig); err != nil {
				return nil, err
			}
			src = opts.GitleaksConfig
		}
		h.Write(src)
		e.groups, e.keywords, e.inGroup, e.pathRules = splitRules(cfg, defaults)
		if e.pathRules != nil {
			for _, r := range e.pathRules.Config.Rules {
				e.pathRulesNeedText = e.pathRulesNeedText || len(r.Keywords) > 0
			}
		}
		var perCall []*glconfig.Allowlist
		perCall, e.pathAllowlists = hoistPathAllowlists(cfg.Allowlists)
		for _, g := range e.groups {
			g.det.Config.Allowlists = perCall
		}
		for id, r := range cfg.Rules {
			_, builtin := defaults.Rules[id]
			e.glRules[GitleaksPrefix+id] = gitleaksRule(id, r.Description, r.Tags, builtin)
		}
	}
	e.version = hex.EncodeToString(h.Sum(nil))[:16]
	return e, nil
}

var defaultEngine = sync.OnceValues(func() (*Engine, error) { return NewEngine(EngineOptions{}) })

// DefaultEngine returns the shared engine with gitleaks' default rules.
func DefaultEngine() (*Engine, error) { return defaultEngine() }

// gitleaksExtendDepth is gitleaks' config package's count of [extend]
// loads. gitleaks keeps it in a package variable and never resets it (its
// command line loads one config per process); past 2 an [extend] is
// silently not loaded, and once above 0 a top-level config's rules are no
// longer validated nor its targeted allowlists attached. An engine is built
// per config, so loadGitleaks resets it around each load, under a lock
// (gitleaks' extend also reads through viper's global instance). Linked by
// name because gitleaks exports no way to reset it; a gitleaks version
// that renames it fails to build here rather than misbehave.
//
//go:linkname gitleaksExtendDepth github.com/zricethezav/gitleaks/v8/config.extendDepth
var gitleaksExtendDepth int

var gitleaksLoad sync.Mutex

func loadGitleaks(toml []byte) (glconfig.Config, error) {
	gitleaksLoad.Lock()
	defer gitleaksLoad.Unlock()
	gitleaksExtendDepth = 0
	defer func() { gitleaksExtendDepth = 0 }()
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(bytes.NewReader(toml)); err != nil {
		return glconfig.Config{}, fmt.Errorf("reading gitleaks config: %w", err)
	}
	var vc glconfig.ViperConfig
	if err := v.Unmarshal(&vc); err != nil {
		return glconfig.Config{}, fmt.Errorf("reading gitleaks config: %w", err)
	}
	cfg, err := vc.Translate()
	if err != nil {
		return glconfig.Config{}, fmt.Errorf("gitleaks config: %w", err)
	}
	return cfg, nil
}

// gitleaksRule maps a gitleaks rule to peel's catalogue: provider keys in
// their live format are critical, the generic high-entropy rule low, and a
// team's own rules high; a "severity:NAME" tag overrides.
func gitleaksRule(id, description string, tags []string, builtin bool) Rule {
	sev := SeverityCritical
	switch {
	case strings.HasPrefix(id, "generic"):
		sev = SeverityLow
	case !builtin:
		sev = SeverityHigh
	}
	for _, t := range tags {
		if name, ok := strings.CutPrefix(t, "severity:"); ok {
			if s, err := ParseSeverity(name); err == nil && s != SeverityNone {
				sev = s
			}
		}
	}
	if description == "" {
		description = "Matches gitleaks rule " + id + "."
	}
	return Rule{
		ID:          GitleaksPrefix + id,
		Title:       strings.TrimSuffix(description, "."),
		Description: description + " (gitleaks rule " + id + ")",
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
func IsText(head []byte) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	if utf8.Valid(head) {
		return true
	}
	// Tolerate a rune cut by the end of the sample.
	for i := 1; i < 4 && i <= len(head); i++ {
		if utf8.Valid(head[:len(head)-i]) {
			return true
		}
	}
	for _, b := range head {
		if b < 0x20 && b != '\n' && b != '\r' && b != '\t' && b != '\f' {
			return false
		}
	}
	return true
}

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

// pathRuleMatches reports whether one of gitleaks' path-only rules matches
// a file's path: only then is their detector (whose own work per call
// costs tens of microseconds) run.
func (e *Engine) pathRuleMatches(name string) bool {
	for _, r := range e.pathRules.Config.Rules {
		if r.Path != nil && r.Path.MatchString(name) {
			return true
		}
	}
	return false
}

// gitleaks runs gitleaks' rules over a file.
func (e *Engine) gitleaks(name string, data []byte, c *collector) {
	if e.pathRules != nil && name != "" && e.pathRuleMatches(name) {
		raw := ""
		if e.pathRulesNeedText {
			raw = string(data)
		}
		// This detector keeps gitleaks' global allowlists, paths included.
		//lint:ignore SA1019 gitleaks v8's Detect takes detect.Fragment.
		for _, f := range inReportOrder(e.pathRules.Detect(detect.Fragment{Raw: raw, FilePath: name})) {
			e.addGitleaks(f.RuleID, f.Description, f.Tags, f.StartLine+1, f.Secret, c)
		}
	}
	if len(e.groups) == 0 {
		return
	}
	if len(data) > wholeFile {
		e.gitleaksWindows(name, data, c)
		return
	}
	raw := string(data)
	var skip pathVerdict
	for _, g := range e.groups {
		//lint:ignore SA1019 gitleaks v8's Detect takes detect.Fragment.
		fs := inReportOrder(g.det.Detect(detect.Fragment{Raw: raw, FilePath: name}))
		if len(fs) > 0 && skip.allowed(e, name) {
			return
		}
		for _, f := range fs {
			e.addGitleaks(f.RuleID, f.Description, f.Tags, f.StartLine+1, f.Secret, c)
		}
	}
}

// pathVerdict is gitleaks' global path allowlists' verdict on one file,
// matched once, and only when a group's detector has reported something
// in it (nothing has been added before): most files never are, and the
// allowlists' regexps cost more than the keyword pass.
type pathVerdict struct{ known, skip bool }

func (v *pathVerdict) allowed(e *Engine, name string) bool {
	if !v.known {
		v.skip, v.known = e.pathAllowed(name), true
	}
	return v.skip
}

func (e *Engine) addGitleaks(ruleID, description string, tags []string, line int, secret string, c *collector) {
	id := GitleaksPrefix + ruleID
	r, ok := e.glRules[id]
	if !ok {
		r = gitleaksRule(ruleID, description, tags, false)
	}
	c.add(Finding{RuleID: id, Severity: r.Severity, Line: line, Secret: secret})
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
// bytes (one secret containing the other, line breaks aside), the finding
// that outranks the other stays (more specific rule, then more severe, then
// the smaller rule ID: see outranks), whatever order the detectors reported
// them in, so that the same input always yields the same findings. An
// entropy-only hit adds nothing to a line a more specific rule reports.
// Findings stay in the order they came in.
func dedupe(fs []Finding) []Finding {
	if len(fs) < 2 {
		return fs
	}
	all := slices.Clone(fs)
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return outranks(all[order[a]], all[order[b]]) })
	kept := make([]bool, len(all))
	byLine := map[int][]int{} // kept findings per line, highest rank first
	for _, i := range order {
		f := all[i]
		merged := false
		for _, k := range byLine[f.Line] {
			o := &all[k]
			if specificity(f.RuleID) == 0 && specificity(o.RuleID) > 0 {
				merged = true
				break
			}
			if !overlaps(o.Secret, f.Secret) {
				continue
			}
			if o.Key == "" {
				o.Key = f.Key
			}
			o.Refers = append(o.Refers[:len(o.Refers):len(o.Refers)], f.Refers...)
			merged = true
			break
		}
		if !merged {
			kept[i] = true
			byLine[f.Line] = append(byLine[f.Line], i)
		}
	}
	out := make([]Finding, 0, len(all))
	for i, f := range all {
		if kept[i] {
			out = append(out, f)
		}
	}
	return out
}

// outranks orders findings for dedupe: the more specific rule first, then
// the more severe, then by rule ID, then the longer secret, then by secret
// and key; a total order on what a report shows.
func outranks(a, b Finding) bool {
	if sa, sb := specificity(a.RuleID), specificity(b.RuleID); sa != sb {
		return sa > sb
	}
	if a.Severity != b.Severity {
		return a.Severity > b.Severity
	}
	if a.RuleID != b.RuleID {
		return a.RuleID < b.RuleID
	}
	if len(a.Secret) != len(b.Secret) {
		return len(a.Secret) > len(b.Secret)
	}
	if a.Secret != b.Secret {
		return a.Secret < b.Secret
	}
	return a.Key > b.Key
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
