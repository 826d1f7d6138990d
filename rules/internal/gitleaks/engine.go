// Package gitleaks runs a gitleaks configuration's rules over text for peel:
// it loads the config (gitleaks' default rules, or a team's .gitleaks.toml
// with its [extend] and allowlists), splits its rules into groups by how
// their keyword hits can be gated, finds the keywords of all groups in one
// pass (textscan's DFA) and runs gitleaks' own detector on the windows
// around the hits that could start a secret, or on the whole of a small
// file. It is the only package of peel that imports gitleaks; the rest of
// peel sees rules (with what peel needs to know of each: whether it is one
// of gitleaks' own, whether it is generic) and findings (rule, line,
// secret).
package gitleaks

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	_ "unsafe" // for go:linkname

	"github.com/rs/zerolog"
	"github.com/spf13/viper"
	glconfig "github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"
)

// Engine runs one gitleaks config's rules. It is safe for concurrent use.
type Engine struct {
	groups []*ruleGroup // provider rules, then generic ones, then the rest
	// keywords finds every group's keywords in one pass; inGroup is
	// indexed by its keyword numbers.
	keywords *keywordScanner
	inGroup  [][]bool
	// pathRules detects with the rules that have no regexp (they report a
	// file by its path), once per file; nil if there are none.
	pathRules         *detect.Detector
	pathRulesNeedText bool // one of them has keywords, to be found in the text
	// pathAllowlists are the config's global allowlists decided by the
	// path alone, checked once per file (see hoistPathAllowlists).
	pathAllowlists []*glconfig.Allowlist

	rules  []Rule
	config []byte
	// whole is gitleaks' own detector of the whole config, for ScanWhole;
	// built on first use.
	whole func() *detect.Detector
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

// Rule is what peel needs to know of one of the config's rules.
type Rule struct {
	ID          string
	Description string
	Tags        []string
	// Builtin says the rule is one of gitleaks' default rules (a team's
	// config may also change one: it then still counts as built in).
	Builtin bool
	// Generic says the rule matches secrets of no known issuer, by their
	// shape and entropy alone (gitleaks names such rules "generic…").
	Generic bool
}

// Finding is one match of a rule.
type Finding struct {
	RuleID string
	Line   int // 1-based, in the text scanned
	Secret string
}

// collector gathers one text's findings.
type collector struct{ findings []Finding }

var silenceGitleaks sync.Once

// New loads a gitleaks config (TOML); nil means gitleaks' default rules. A
// config that does not parse is an error.
func New(config []byte) (*Engine, error) {
	// gitleaks logs to stderr from its library code; peel's library code
	// is silent, so its logger is muted once for the process.
	silenceGitleaks.Do(func() { logging.Logger = zerolog.Nop() })
	defaults, err := loadGitleaks([]byte(glconfig.DefaultConfig))
	if err != nil {
		return nil, fmt.Errorf("loading gitleaks' default rules: %w", err)
	}
	cfg := defaults
	e := &Engine{config: []byte(glconfig.DefaultConfig)}
	if config != nil {
		if err := checkGitleaksConfig(config); err != nil {
			return nil, err
		}
		if cfg, err = loadGitleaks(config); err != nil {
			return nil, err
		}
		e.config = config
	}
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
	e.whole = sync.OnceValue(func() *detect.Detector { return detect.NewDetector(cfg) })
	for _, id := range cfg.OrderedRules {
		r := cfg.Rules[id]
		_, builtin := defaults.Rules[id]
		e.rules = append(e.rules, Rule{ID: id, Description: r.Description, Tags: r.Tags, Builtin: builtin, Generic: isGeneric(id)})
	}
	return e, nil
}

// adapterVersion is raised when this package's own work (rule groups,
// windows, gates) changes what it reports.
const adapterVersion = 2

// Version identifies the adapter and the gitleaks it runs: the adapter's
// version and gitleaks' module version, as built.
func Version() string {
	v := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				v = d.Version
				if d.Replace != nil {
					v += " => " + d.Replace.Path + " " + d.Replace.Version
				}
			}
		}
	}
	return fmt.Sprintf("adapter %d, %s %s", adapterVersion, modulePath, v)
}

// modulePath is gitleaks' module.
const modulePath = "github.com/zricethezav/gitleaks/v8"

// isGeneric tells gitleaks' generic rules by their IDs, the only mark
// gitleaks gives them (generic-api-key).
func isGeneric(id string) bool { return strings.HasPrefix(id, "generic") }

// Rules returns the config's rules, in the config's order.
func (e *Engine) Rules() []Rule { return e.rules }

// Config returns the config in use, as read (gitleaks' default config when
// New was given none).
func (e *Engine) Config() []byte { return e.config }

// Scan runs the rules over one text and appends what they find to dst.
// name is the file's path, which path rules and allowlists read; "" for
// text that is no file (a build step).
func (e *Engine) Scan(name string, data []byte, dst []Finding) []Finding {
	c := collector{findings: dst}
	e.gitleaks(name, data, &c)
	return c.findings
}

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

// addGitleaks records one of gitleaks' findings (its description and tags
// are the rule's, which Rules gives).
func (e *Engine) addGitleaks(ruleID, _ string, _ []string, line int, secret string, c *collector) {
	c.findings = append(c.findings, Finding{RuleID: ruleID, Line: line, Secret: secret})
}
