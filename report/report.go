package report

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
)

// Schema identifies the JSON report's format; it changes only when a field
// changes meaning or goes away. peel-report/v2 changed what a fingerprint
// hashes (see Fingerprint).
const Schema = "peel-report/v2"

// Options shape a report.
type Options struct {
	ToolVersion string
	ShowSecrets bool // print secrets in full instead of redacted
	// Ignore and Baseline, when set, move the findings they match from
	// findings to suppressed: not reported in the table, not failed on.
	Ignore   *IgnoreFile
	Baseline *Baseline
	// Duration is how long the scans took, for the summary.
	Duration time.Duration
	// FingerprintKey, when set, makes each fingerprint an HMAC under it
	// of the finding's place and its secret (see Fingerprint).
	FingerprintKey []byte
	// Severities, when set, are the severities reported: findings of the
	// others are left out of every format and counted in
	// Summary.Filtered. Their secrets are still redacted wherever else
	// they appear.
	Severities []rules.Severity
}

// Report is the document every writer renders; its JSON form is the
// documented schema.
type Report struct {
	Schema       string       `json:"schema"`
	Tool         Tool         `json:"tool"`
	Fingerprints Fingerprints `json:"fingerprints"`
	Images       []Image      `json:"images"`
	Rules        []Rule       `json:"rules"`
	Summary      Summary      `json:"summary"`
}

// Rule describes a rule that has findings in the report.
type Rule struct {
	ID          string         `json:"id"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Remediation string         `json:"remediation"`
	Severity    rules.Severity `json:"severity"`
}

// Tool names the program that wrote the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Image is the result for one scanned input.
type Image struct {
	Input    string    `json:"input"`
	Kind     string    `json:"kind"`
	ImageID  string    `json:"image_id,omitempty"`
	Digest   string    `json:"digest,omitempty"`
	Ref      string    `json:"ref,omitempty"`
	Platform string    `json:"platform,omitempty"`
	Layers   []Layer   `json:"layers"`
	Findings []Finding `json:"findings"`
	// Suppressed holds the findings an ignore file or the baseline matched.
	Suppressed []Finding    `json:"suppressed,omitempty"`
	Incomplete []Incomplete `json:"incomplete"`
	// Dismissed is present with --explain: what the rules looked at and
	// did not report, and why.
	Dismissed []Dismissed `json:"dismissed,omitempty"`
	Stats     Stats       `json:"stats"`
	// Error says why the image could not be scanned, in a run over many
	// images that went on past it; its findings are then empty.
	Error string `json:"error,omitempty"`
	// Signatures is present for images read from a registry or an OCI
	// layout: their signatures, found and verified (signatures.go).
	Signatures *Signatures `json:"signatures,omitempty"`
}

// Dismissed is a candidate that was not reported.
type Dismissed struct {
	Location string `json:"location"`
	Layer    int    `json:"layer,omitempty"`
	Rule     string `json:"rule,omitempty"`
	Key      string `json:"key,omitempty"`
	Reason   string `json:"reason"`
}

// Layer is one image layer.
type Layer struct {
	Number    int    `json:"number"`
	DiffID    string `json:"diff_id"`
	CreatedBy string `json:"created_by,omitempty"`
}

// Finding is one secret, placed and explained.
type Finding struct {
	Rule           string         `json:"rule"`
	Title          string         `json:"title"`
	Severity       rules.Severity `json:"severity"`
	Location       string         `json:"location"`
	Path           []string       `json:"path"`
	Line           int            `json:"line,omitempty"`
	Key            string         `json:"key,omitempty"`
	Secret         string         `json:"secret,omitempty"`
	Redacted       bool           `json:"redacted"`
	Layer          int            `json:"layer,omitempty"`
	CreatedBy      string         `json:"created_by,omitempty"`
	DeletedInLayer int            `json:"deleted_in_layer,omitempty"`
	Verified       bool           `json:"verified"`
	VerifiedBy     string         `json:"verified_by,omitempty"`
	Opens          []string       `json:"opens,omitempty"`
	KeystoreType   string         `json:"keystore_type,omitempty"`
	Aliases        []string       `json:"aliases,omitempty"`
	Remediation    string         `json:"remediation"`
	Fingerprint    string         `json:"fingerprint"`
	Suppression    *Suppression   `json:"suppression,omitempty"`
	Excerpt        *Excerpt       `json:"excerpt,omitempty"`

	kind rules.Kind // the rule's, for the table's wording; not in the JSON
}

// Excerpt is the source around a finding in a text file, as the report
// shows it: every secret in it masked (the finding's own where it
// stands, then every other secret of the report), unless ShowSecrets.
type Excerpt struct {
	FirstLine int      `json:"first_line"` // the line number of Lines[0]
	Lines     []string `json:"lines"`
}

// Incomplete is a part of the input a limit or a malformed file kept from
// being scanned.
type Incomplete struct {
	Location string `json:"location"`
	Layer    int    `json:"layer,omitempty"`
	Reason   string `json:"reason"`
}

// Stats counts what was read.
type Stats struct {
	Layers       int   `json:"layers"`
	CachedLayers int   `json:"cached_layers"`
	SharedLayers int   `json:"shared_layers,omitempty"`
	Files        int   `json:"files"`
	Archives     int   `json:"archives"`
	Bytes        int64 `json:"bytes"`
	Skipped      int   `json:"skipped"`
}

// Summary totals the report.
type Summary struct {
	Images       int            `json:"images"`
	Findings     int            `json:"findings"`
	BySeverity   map[string]int `json:"by_severity"`
	Suppressed   int            `json:"suppressed"`
	Baselined    int            `json:"baselined"`
	Incomplete   int            `json:"incomplete"`
	Filtered     int            `json:"filtered"`
	Layers       int            `json:"layers"`
	CachedLayers int            `json:"cached_layers"`
	Files        int            `json:"files"`
	Archives     int            `json:"archives"`
	Bytes        int64          `json:"bytes"`
	Skipped      int            `json:"skipped"`
	Seconds      float64        `json:"seconds"`

	// Errors counts the images that could not be scanned. SharedLayers
	// counts layers another image of the run had; with more than one
	// image, DistinctLayers is Layers less SharedLayers.
	Errors         int `json:"errors,omitempty"`
	SharedLayers   int `json:"shared_layers,omitempty"`
	DistinctLayers int `json:"distinct_layers,omitempty"`
}

// Build assembles a report from scan results. Unless opts.ShowSecrets, the
// secrets are redacted, and so is every occurrence of a finding's secret in
// the strings that come from the image (created_by, locations, keys, …), in
// every field of the report: the writers render only what Build made.
func Build(results []*scanner.Result, opts Options) *Report {
	var red *redactor
	if !opts.ShowSecrets {
		red = newRedactor(results)
	}
	r := &Report{
		Schema:       Schema,
		Tool:         Tool{Name: "peel", Version: opts.ToolVersion},
		Fingerprints: fingerprintsOf(opts.FingerprintKey),
		Images:       []Image{},
		Rules:        []Rule{},
		Summary:      Summary{BySeverity: map[string]int{}},
	}
	seenRules := map[string]bool{}
	for _, s := range []rules.Severity{rules.SeverityCritical, rules.SeverityHigh, rules.SeverityMedium, rules.SeverityLow} {
		r.Summary.BySeverity[s.String()] = 0
	}
	for _, res := range results {
		img := Image{
			Input: res.Input, Kind: res.Kind, ImageID: res.ImageID, Digest: res.Digest, Ref: res.Ref, Platform: res.Platform,
			Layers: []Layer{}, Findings: []Finding{}, Incomplete: []Incomplete{},
			Stats: Stats{Layers: res.Stats.Layers, CachedLayers: res.Stats.CachedLayers, SharedLayers: res.Stats.SharedLayers, Files: res.Stats.Files, Archives: res.Stats.Archives, Bytes: res.Stats.Bytes, Skipped: res.Stats.Skipped},
			Error: red.s(res.Error),
		}
		if img.Error != "" {
			r.Summary.Errors++
		}
		img.Signatures = signaturesOf(res.Signatures, red)
		createdBy := map[int]string{}
		occurrences := map[string]int{}
		for _, l := range res.Layers {
			img.Layers = append(img.Layers, Layer{Number: l.Number, DiffID: l.DiffID, CreatedBy: red.s(l.CreatedBy)})
			createdBy[l.Number] = l.CreatedBy
		}
		for i := range res.Findings {
			f := &res.Findings[i]
			if !wanted(opts.Severities, f.Severity) {
				r.Summary.Filtered++
				continue
			}
			rule := res.Rules[f.RuleID]
			if rule.ID == "" {
				rule, _ = rules.Lookup(f.RuleID)
			}
			if !seenRules[f.RuleID] {
				seenRules[f.RuleID] = true
				r.Rules = append(r.Rules, Rule{ID: f.RuleID, Title: rule.Title, Description: rule.Description, Remediation: rule.Remediation, Severity: rule.Severity})
			}
			out := Finding{
				Rule: f.RuleID, Title: rule.Title, Severity: f.Severity,
				Location: f.Location(), Path: f.Path, Line: f.Line, Key: f.Key,
				Secret: f.Secret, Layer: f.Layer, CreatedBy: createdBy[f.Layer], DeletedInLayer: f.DeletedInLayer,
				Verified: f.Verified, VerifiedBy: f.VerifiedBy, Opens: f.Opens,
				KeystoreType: f.KeystoreType, Aliases: f.Aliases,
				Remediation: rule.Remediation, Fingerprint: Fingerprint(f, occurrence(occurrences, f), opts.FingerprintKey),
				Excerpt: red.excerpt(f.Excerpt, f.Secret),
				kind:    rule.Kind,
			}
			// The ignore file and the baseline match what was found, not
			// what is shown.
			if s := opts.Baseline.match(&out); s != nil {
				out.Suppression = s
				r.Summary.Baselined++
			} else if s := opts.Ignore.match(&out); s != nil {
				out.Suppression = s
				r.Summary.Suppressed++
			}
			if red != nil {
				red.finding(&out)
			}
			if out.Suppression != nil {
				img.Suppressed = append(img.Suppressed, out)
				continue
			}
			img.Findings = append(img.Findings, out)
			r.Summary.BySeverity[f.Severity.String()]++
		}
		for _, d := range res.Dismissed {
			img.Dismissed = append(img.Dismissed, Dismissed{Location: red.s(scanner.FormatLocation(d.Path, d.Line)), Layer: d.Layer, Rule: d.RuleID, Key: red.s(d.Key), Reason: red.s(d.Reason)})
		}
		for _, in := range res.Incomplete {
			img.Incomplete = append(img.Incomplete, Incomplete{Location: red.s(scanner.FormatLocation(in.Path, 0)), Layer: in.Layer, Reason: red.s(in.Reason)})
		}
		r.Summary.Findings += len(img.Findings)
		r.Summary.Incomplete += len(img.Incomplete)
		r.Summary.Layers += img.Stats.Layers
		r.Summary.CachedLayers += img.Stats.CachedLayers
		r.Summary.SharedLayers += img.Stats.SharedLayers
		r.Summary.Files += img.Stats.Files
		r.Summary.Archives += img.Stats.Archives
		r.Summary.Bytes += img.Stats.Bytes
		r.Summary.Skipped += img.Stats.Skipped
		r.Images = append(r.Images, img)
	}
	r.Summary.Images = len(r.Images)
	if r.Summary.Images > 1 || r.Summary.SharedLayers > 0 {
		r.Summary.DistinctLayers = r.Summary.Layers - r.Summary.SharedLayers
	}
	r.Summary.Seconds = float64(opts.Duration.Milliseconds()) / 1000
	sort.Slice(r.Rules, func(i, j int) bool { return r.Rules[i].ID < r.Rules[j].ID })
	return r
}

// wanted reports whether a severity is among those asked for (all, when
// none are).
func wanted(severities []rules.Severity, s rules.Severity) bool {
	if len(severities) == 0 {
		return true
	}
	for _, w := range severities {
		if w == s {
			return true
		}
	}
	return false
}

// Writer renders a report in one format.
type Writer interface {
	Write(w io.Writer, r *Report) error
}

var writers = map[string]Writer{
	"table": tableWriter{}, // Table(TableOptions{}): no terminal
	"json":  jsonWriter{},
	"sarif": sarifWriter{},
}

// Formats lists the format names ByName accepts.
func Formats() []string {
	out := make([]string, 0, len(writers))
	for k := range writers {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ByName returns the writer for a format name.
func ByName(name string) (Writer, error) {
	w, ok := writers[name]
	if !ok {
		return nil, fmt.Errorf("unknown format %q (want %s)", name, strings.Join(Formats(), ", "))
	}
	return w, nil
}

// MaxSeverity returns the worst severity in the report, or SeverityNone.
func (r *Report) MaxSeverity() rules.Severity {
	max := rules.SeverityNone
	for _, img := range r.Images {
		for _, f := range img.Findings {
			if f.Severity > max {
				max = f.Severity
			}
		}
	}
	return max
}
