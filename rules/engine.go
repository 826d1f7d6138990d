package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"

	"github.com/peelscan/peel/rules/internal/gitleaks"
	"github.com/peelscan/peel/rules/internal/textscan"
)

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
	// KeystoreWork bounds the bytes hashed verifying keystores in one
	// Verify call (each password tried hashes the whole store). Default
	// 8 GiB.
	KeystoreWork int64
}

// ScanOptions choose what a scan of one file reports.
type ScanOptions struct {
	// IncludeDependencyTests reports findings in the test resources of
	// third-party dependencies, which are dismissed otherwise.
	IncludeDependencyTests bool
}

// Engine runs the detectors of the registry, then gitleaks' rules, over
// files, build commands and image config entries; merges what several
// rules found on the same bytes; dismisses findings by where they sit
// (policies); and verifies keystores once a scan's findings are known. It
// is safe for concurrent use.
type Engine struct {
	detectors []Detector // the registry's, then gitleaks' (if on)
	formats   []Detector // the format detectors, in precedence order
	// formatNames are the format detectors' names, in the same order.
	formatNames []string
	others      []Detector // the detectors that read every file they apply to
	verifiers   []Verifier
	rules       map[string]Rule // every rule the engine can report, by ID
	version     string
}

// NewEngine builds an engine; a gitleaks config that does not parse is an
// error.
func NewEngine(opts EngineOptions) (*Engine, error) {
	e := &Engine{detectors: append([]Detector(nil), detectors...), rules: map[string]Rule{}}
	for id, r := range catalogue() {
		e.rules[id] = r
	}
	var gl *gitleaksDetector
	if !opts.NoGitleaks {
		var err error
		if gl, err = newGitleaksDetector(opts.GitleaksConfig); err != nil {
			return nil, err
		}
		for _, r := range gl.Info().Rules {
			e.rules[r.ID] = r
		}
		e.detectors = append(e.detectors, gl)
	}
	for _, d := range e.detectors {
		if info := d.Info(); info.Format {
			e.formats = append(e.formats, d)
			e.formatNames = append(e.formatNames, info.Name)
		} else {
			e.others = append(e.others, d)
		}
	}
	for _, v := range verifiers {
		e.verifiers = append(e.verifiers, v(opts))
	}
	e.version = e.deriveVersion(gl)
	return e, nil
}

var defaultEngine = sync.OnceValues(func() (*Engine, error) { return NewEngine(EngineOptions{}) })

// DefaultEngine returns the shared engine with gitleaks' default rules.
func DefaultEngine() (*Engine, error) { return defaultEngine() }

// Version identifies what the engine reports: its detectors' and
// verifiers' declared versions, rules and examples, the engine's own
// version (merging, policies), and the gitleaks config and adapter in use.
// Results cached under one version are stale under another.
func (e *Engine) Version() string { return e.version }

// engineVersion is raised when the engine's own work changes what it
// reports: decoding text (UTF-16), merging what several rules found
// (dedupe), the policies.
const engineVersion = 2

// deriveVersion hashes everything that decides what the engine reports,
// as trivy keys its cache by its analyzers' versions: change a detector
// (its version, a rule, an example) and the version changes with it.
func (e *Engine) deriveVersion(gl *gitleaksDetector) string {
	h := sha256.New()
	fmt.Fprintf(h, "peel engine %d\n", engineVersion)
	write := func(info Info) {
		b, err := json.Marshal(info)
		if err != nil {
			panic(fmt.Sprintf("rules: describing %s: %v", info.Name, err)) // plain data: cannot fail
		}
		h.Write(b)
		h.Write([]byte{'\n'})
	}
	for _, d := range e.detectors {
		write(d.Info())
	}
	for _, v := range e.verifiers {
		write(v.Info())
	}
	if gl != nil {
		fmt.Fprintf(h, "gitleaks %s\n", gitleaks.Version())
		h.Write(gl.gl.Config())
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Rule returns the catalogue entry of a rule ID, peel's own or gitleaks'.
func (e *Engine) Rule(id string) (Rule, bool) {
	r, ok := e.rules[id]
	return r, ok
}

// Rules returns every rule the engine can report, sorted by ID.
func (e *Engine) Rules() []Rule {
	out := make([]Rule, 0, len(e.rules))
	for _, r := range e.rules {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// specificity is a rule's, for dedupe.
func (e *Engine) specificity(id string) Specificity { return e.rules[id].Specificity }

// IsText reports whether a file's first bytes look like text: no NUL byte
// and valid UTF-8 (a cut rune at the end allowed), or Latin-1 without
// control characters, or UTF-16 behind a byte order mark (which Scan
// decodes).
func IsText(head []byte) bool { return textscan.IsText(head) || textscan.IsUTF16Text(head) }

// Scan runs over a text file (UTF-16 decoded first) the first format
// detector that applies to it (by its name: properties, YAML, .env, INI,
// XML, JSON, .netrc, .pgpass), then every other detector that applies
// (private keys, URL credentials, gitleaks' catalogue); keeps one finding
// per secret per line; and dismisses what the policies say is no finding
// where the file sits (documentation, message bundles, the test resources
// of dependencies).
func (e *Engine) Scan(f *File, opts ScanOptions) Result { return e.scan(f, opts, true) }

// ScanFormat reads a file with the format detector its location chain
// calls for, and with no other detector: it is for a file read under a
// name that is not its own, as a link gives it (an application reading
// /app/application.properties, a link to /etc/app/conf.v3, reads
// properties), whose bytes Scan has read, or will read, under their own
// name. The policies judge the findings by that name.
func (e *Engine) ScanFormat(f *File, opts ScanOptions) Result { return e.scan(f, opts, false) }

// Format names the format detector that reads a file of this location
// chain ("properties", "yaml", …), by the chain alone; "" when none does.
func (e *Engine) Format(path []string) string {
	for i, d := range e.formats {
		if d.Applies(path) {
			return e.formatNames[i]
		}
	}
	return ""
}

func (e *Engine) scan(f *File, opts ScanOptions, all bool) Result {
	if text, ok := textscan.DecodeUTF16(f.Data); ok {
		// A UTF-16 file (with its byte order mark) is read as the text it
		// holds; its lines are the same lines.
		f = &File{Path: f.Path, Data: text}
	}
	c := getCollector()
	for _, d := range e.formats {
		if d.Applies(f.Path) {
			d.Detect(f, c)
			break
		}
	}
	if all {
		for _, d := range e.others {
			if d.Applies(f.Path) {
				d.Detect(f, c)
			}
		}
	}
	r := c.release()
	r.Findings = dedupe(r.Findings, e.specificity)
	e.judge(f.Path, opts, &r)
	return r
}

// collectors are reused from file to file: handed to the detectors through
// an interface, a Collector would otherwise be allocated for every file.
var collectors = sync.Pool{New: func() any { return new(Collector) }}

func getCollector() *Collector { return collectors.Get().(*Collector) }

// release finishes the collector's result and returns the collector, empty,
// to the pool.
func (c *Collector) release() Result {
	r := c.finish()
	*c = Collector{}
	collectors.Put(c)
	return r
}

// ScanFile scans one file named name (its path, with its directories), as
// Scan does a chain of that one name.
func (e *Engine) ScanFile(name string, data []byte) Result {
	in := &struct {
		f    File
		path [1]string
	}{}
	in.path[0] = name
	in.f = File{Path: in.path[:], Data: data}
	return e.Scan(&in.f, ScanOptions{})
}

// ScanCommand runs the build-step detectors over one history entry's
// created_by; findings are on line 1.
func (e *Engine) ScanCommand(cmd string) Result { return e.command(Command{Line: cmd}) }

// ScanEntrypoint reads the image config's entrypoint and command (joined
// with spaces) as ScanCommand reads a build step, reporting what it finds
// as image-config-secret.
func (e *Engine) ScanEntrypoint(cmd string) Result {
	return e.command(Command{Line: cmd, Entrypoint: true})
}

func (e *Engine) command(cmd Command) Result {
	var c Collector
	for _, d := range e.detectors {
		if r, ok := d.(commandReader); ok {
			r.DetectCommand(cmd, &c)
		}
	}
	r := c.finish()
	r.Findings = dedupe(r.Findings, e.specificity)
	return r
}

// ScanAssignment judges one KEY=VALUE of the image config (Env, Labels).
// Its findings have no line, and the key when their rule gives none.
func (e *Engine) ScanAssignment(key, value string) Result {
	var c Collector
	for _, d := range e.detectors {
		if r, ok := d.(assignmentReader); ok {
			r.DetectAssignment(key, value, &c)
		}
	}
	for i := range c.res.Findings {
		c.res.Findings[i].Line = 0
		if c.res.Findings[i].Key == "" {
			c.res.Findings[i].Key = key
		}
	}
	r := c.finish()
	r.Findings = dedupe(r.Findings, e.specificity)
	return r
}

// dedupe keeps one finding per secret per line: when two rules hit the same
// bytes (one secret containing the other, line breaks aside), the finding
// that outranks the other stays (more specific rule, then more severe, then
// the smaller rule ID: see outranks), whatever order the detectors reported
// them in, so that the same input always yields the same findings. An
// entropy-only hit adds nothing to a line a more specific rule reports.
// Findings stay in the order they came in.
func dedupe(fs []Finding, specificity func(ruleID string) Specificity) []Finding {
	if len(fs) < 2 {
		return fs
	}
	all := slices.Clone(fs)
	order := make([]int, len(all))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return outranks(all[order[a]], all[order[b]], specificity) })
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
func outranks(a, b Finding, specificity func(ruleID string) Specificity) bool {
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
