package rules

import (
	"strings"

	"github.com/peelscan/peel/rules/internal/gitleaks"
)

// gitleaksDetector runs a gitleaks config's rules (gitleaks' default
// catalogue, or a team's .gitleaks.toml) over every text, command line and
// image config entry. Its rules are the config's, each as peel rule
// gitleaks.<id>.
type gitleaksDetector struct {
	gl    *gitleaks.Engine
	rules []Rule
	byID  map[string]Rule // by gitleaks' ID
}

func newGitleaksDetector(config []byte) (*gitleaksDetector, error) {
	gl, err := gitleaks.New(config)
	if err != nil {
		return nil, err
	}
	d := &gitleaksDetector{gl: gl, byID: map[string]Rule{}}
	examples := gitleaksExamples()
	for _, r := range gl.Rules() {
		pr := gitleaksRule(r)
		if r.Builtin {
			pr.Examples = examples[r.ID]
		}
		d.rules = append(d.rules, pr)
		d.byID[r.ID] = pr
	}
	return d, nil
}

// gitleaksRule maps a gitleaks rule to peel's catalogue: provider keys in
// their live format are critical, generic high-entropy rules low, and a
// team's own rules high; a "severity:NAME" tag overrides.
func gitleaksRule(r gitleaks.Rule) Rule {
	sev, kind, spec := SeverityCritical, KindToken, SpecificityIssuer
	switch {
	case r.Generic:
		sev, kind, spec = SeverityLow, KindSecret, SpecificityEntropy
	case !r.Builtin:
		sev, kind = SeverityHigh, KindSecret
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
		Kind:        kind,
		Specificity: spec,
	}
}

// gitleaksExamples are peel's examples of a few of gitleaks' own rules:
// how they meet peel's detectors and policies. (gitleaks checks its rules
// against examples of its own when it generates its catalogue.)
func gitleaksExamples() map[string][]Example {
	aws := "AKIA" + strings.Repeat("Q", 4) + "7PEELEXA" + "Z2X4"
	ghp := "ghp_" + "Pe3lTestT0ken" + "R4nd0mCh4rsXyZ" + "012345678"
	return map[string][]Example{
		"aws-access-token": {
			file("/app/deploy.sh", "#!/bin/sh\nexport AWS_ACCESS_KEY_ID="+aws+"\n", at(2, "", aws)),
			file("/app/deploy.sh", "#!/bin/sh\nexport AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID}\n"),
		},
		"github-pat": {
			// The config rule and gitleaks' hit the same bytes: one
			// finding, of the rule that knows the token's issuer.
			file("/app/application.properties", "github.token="+ghp+"\n", at(1, "github.token", ghp)),
			file("/app/application.properties", "github.token=${GITHUB_TOKEN}\n"),
		},
		"generic-api-key": {
			file("/app/conf/app.conf", "client_secret = \"Q3v9X2kP7mL4tR8wZ6nB1cY5\"\n", at(1, "", "Q3v9X2kP7mL4tR8wZ6nB1cY5")),
			// In documentation, placeholders and entropy-only hits are
			// dismissed.
			file("/usr/share/doc/app/README.md", "Set `DB_PASSWORD=changeme` or use postgres://app:changeme@db/app\n"),
			file("/opt/app/NOTES.md", "DB_PASSWORD=Zq8-unique-pw\n"),
		},
	}
}

func (d *gitleaksDetector) Info() Info { return Info{Name: "gitleaks", Version: 1, Rules: d.rules} }

func (d *gitleaksDetector) Applies([]string) bool { return true }

func (d *gitleaksDetector) Detect(f *File, c *Collector) { d.scan(f.Name(), f.Data, c) }

func (d *gitleaksDetector) DetectCommand(cmd Command, c *Collector) { d.scan("", []byte(cmd.Line), c) }

func (d *gitleaksDetector) DetectAssignment(key, value string, c *Collector) {
	d.scan("", []byte(key+"="+value), c)
}

func (d *gitleaksDetector) scan(name string, data []byte, c *Collector) {
	for _, f := range d.gl.Scan(name, data, nil) {
		c.Add(Finding{RuleID: GitleaksPrefix + f.RuleID, Severity: d.byID[f.RuleID].Severity, Line: f.Line, Secret: f.Secret})
	}
}
