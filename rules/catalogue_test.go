package rules

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestCatalogueExamples walks every detector and verifier of the registry
// (and gitleaks' detector of the default engine) and runs every example of
// every rule each declares through the engine, which must report exactly
// the example's findings. Each detector's every rule of peel's own has an
// example that fires and one that stays quiet; gitleaks' rules carry
// gitleaks' own examples, checked when gitleaks generates its catalogue,
// and peel's examples of a few.
func TestCatalogueExamples(t *testing.T) {
	e := engine(t)
	var ds []Info
	for _, d := range e.detectors {
		ds = append(ds, d.Info())
	}
	for _, v := range e.verifiers {
		ds = append(ds, v.Info())
	}
	ran := 0
	for _, d := range ds {
		for _, r := range d.Rules {
			fires, quiet := 0, 0
			for i, x := range r.Examples {
				name := fmt.Sprintf("%s/%s/%d", d.Name, r.ID, i)
				checkExample(t, e, name, r.ID, x)
				ran++
				if x.Fires(r.ID) {
					fires++
				} else {
					quiet++
				}
			}
			if strings.HasPrefix(r.ID, GitleaksPrefix) {
				continue
			}
			if _, ok := Lookup(r.ID); !ok {
				t.Errorf("%s: rule %s is not in the catalogue", d.Name, r.ID)
			}
			if d.Name == "keystore" {
				continue // binary stores: see TestKeystoreVerifier
			}
			if fires == 0 || quiet == 0 {
				t.Errorf("%s: rule %s has %d examples that fire and %d that stay quiet; want one of each at least", d.Name, r.ID, fires, quiet)
			}
		}
	}
	t.Logf("%d examples over %d detectors and verifiers", ran, len(ds))
}

func checkExample(t *testing.T, e *Engine, name, rule string, x Example) {
	t.Helper()
	var r Result
	switch x.Source {
	case SourceFile:
		r = e.Scan(&File{Path: splitPath(x.Path), Data: []byte(x.Text)}, ScanOptions{})
	case SourceCommand:
		r = e.ScanCommand(x.Text)
	case SourceEntrypoint:
		r = e.ScanEntrypoint(x.Text)
	case SourceEnv:
		k, v, _ := strings.Cut(x.Text, "=")
		r = e.ScanAssignment(k, v)
	case SourceSignatures:
		var st SignatureStatus
		if err := json.Unmarshal([]byte(x.Text), &st); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r = e.JudgeSignatures(st)
	}
	var got, want []Want
	for i, f := range r.Findings {
		g := Want{Rule: f.RuleID, Line: f.Line, Key: f.Key, Secret: f.Secret}
		w := Want{}
		if i < len(x.Want) {
			w = x.Want[i]
			if w.Rule == "" {
				w.Rule = rule
			}
			if w.Severity != SeverityNone {
				g.Severity = f.Severity
			}
		}
		got, want = append(got, g), append(want, w)
	}
	for i := len(r.Findings); i < len(x.Want); i++ {
		w := x.Want[i]
		if w.Rule == "" {
			w.Rule = rule
		}
		want = append(want, w)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %q in %s:\n got %+v\nwant %+v\n(dismissed %+v)", name, x.Text, x.Path, got, want, r.Dismissed)
	}
}

// TestCatalogueConsistent: a rule that several detectors declare is the
// same rule in each, examples aside; rule IDs are unique across peel and
// gitleaks.
func TestCatalogueConsistent(t *testing.T) {
	seen := map[string]Rule{}
	for _, info := range infos() {
		for _, r := range info.Rules {
			r.Examples = nil
			if prev, ok := seen[r.ID]; ok && !reflect.DeepEqual(prev, r) {
				t.Errorf("%s declares rule %s as %+v, elsewhere %+v", info.Name, r.ID, r, prev)
			}
			seen[r.ID] = r
			if r.Title == "" || r.Description == "" || r.Remediation == "" || r.Severity == SeverityNone {
				t.Errorf("%s: rule %s lacks a title, description, remediation or severity", info.Name, r.ID)
			}
		}
	}
	for _, r := range engine(t).Rules() {
		if _, ok := seen[r.ID]; ok != !strings.HasPrefix(r.ID, GitleaksPrefix) {
			t.Errorf("rule %s: in peel's catalogue %v", r.ID, ok)
		}
	}
}
