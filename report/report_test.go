package report_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func scan(t *testing.T, input string, build func() (v1.Image, error)) *scanner.Result {
	t.Helper()
	img, err := build()
	if err != nil {
		t.Fatal(err)
	}
	res, err := scanner.New(scanner.Options{}).ScanImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	res.Input, res.Kind = input, scanner.KindDockerArchive
	return res
}

// TestGolden compares each writer's output, byte for byte, with
// testdata/NAME.golden. Run `go test ./report -update` to accept a change.
func TestGolden(t *testing.T) {
	v1res := scan(t, "sts-v1.tar", fixture.STSv1)
	v2res := scan(t, "sts-v2.tar", fixture.STSv2)
	for _, tc := range []struct {
		name, format string
		results      []*scanner.Result
		show         bool
	}{
		{"v1.table", "table", []*scanner.Result{v1res}, false},
		{"v1.json", "json", []*scanner.Result{v1res}, false},
		{"v1-v2.table", "table", []*scanner.Result{v1res, v2res}, false},
		{"v2.json", "json", []*scanner.Result{v2res}, false},
		{"v1.sarif", "sarif", []*scanner.Result{v1res}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := report.ByName(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			rep := report.Build(tc.results, report.Options{ToolVersion: "test", ShowSecrets: tc.show})
			if err := w.Write(&buf, rep); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from %s; run go test ./report -update if the change is intended\n got:\n%s", tc.name, golden, buf.String())
			}
			if strings.Contains(buf.String(), fixture.Password) {
				t.Errorf("%s shows the secret unredacted", tc.name)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"springboot": "sp…",
		"päss-w0rd":  "pä…",
		"abcde":      "ab…",
		"abcd":       "…",
		"a":          "…",
	} {
		if got := report.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFingerprint(t *testing.T) {
	key := []byte("a-fingerprint-key-of-the-team")
	f := scanner.Finding{Finding: rules.Finding{RuleID: rules.RuleConfigSecret, Line: 3, Key: "a.password", Secret: "s3cret-1"}, Path: []string{"/app.jar", "application.properties"}, Layer: 3}
	moved := f
	moved.Layer, moved.Line = 7, 9 // rebuilt: other layer, lines shifted
	rotated := f
	rotated.Secret = "s3cret-2"
	elsewhere := f
	elsewhere.Path = []string{"/app.jar", "application-prod.properties"}
	for _, k := range [][]byte{nil, key} {
		fp := report.Fingerprint(&f, 1, k)
		if fp != report.Fingerprint(&moved, 1, k) {
			t.Errorf("key %q: fingerprint changed with the layer or line", k)
		}
		if fp == report.Fingerprint(&elsewhere, 1, k) {
			t.Errorf("key %q: fingerprint did not change with the path", k)
		}
		if len(fp) != 32 || strings.Contains(fp, "s3cret") {
			t.Errorf("fingerprint %q", fp)
		}
	}
	// By location, the secret plays no part: a reader of a redacted report
	// cannot test a guess. A second finding at the same place is told apart
	// by its occurrence.
	if report.Fingerprint(&f, 1, nil) != report.Fingerprint(&rotated, 1, nil) {
		t.Error("the fingerprint by location depends on the secret")
	}
	if report.Fingerprint(&f, 1, nil) == report.Fingerprint(&f, 2, nil) {
		t.Error("the second occurrence has the first's fingerprint")
	}
	// Keyed, a rotated value is a new fingerprint, and another key makes
	// other fingerprints.
	if report.Fingerprint(&f, 1, key) == report.Fingerprint(&rotated, 1, key) {
		t.Error("the keyed fingerprint does not depend on the secret")
	}
	if report.Fingerprint(&f, 1, key) == report.Fingerprint(&f, 1, []byte("another-key-of-16-bytes")) {
		t.Error("two keys make the same fingerprint")
	}
	if report.Fingerprint(&f, 1, key) == report.Fingerprint(&f, 1, nil) {
		t.Error("keyed and by-location fingerprints agree")
	}
}

// TestFingerprintResistsADictionary runs the attack on peel-report/v1:
// rule, path and key are in every redacted report, and v1's fingerprint
// hashed them with the secret, so seven guesses gave the password of all
// four v1 findings back. Now the fingerprint is the same whatever the
// guess, and no guess's v1 hash is in the report.
func TestFingerprintResistsADictionary(t *testing.T) {
	rep := report.Build([]*scanner.Result{scan(t, "sts-v1.tar", fixture.STSv1)}, report.Options{})
	guesses := []string{"password", "changeit", "secret", "admin", "spring", "springboot", "letmein"}
	recovered := func(fingerprint string, f report.Finding) string {
		for _, g := range guesses {
			sf := scanner.Finding{Finding: rules.Finding{RuleID: f.Rule, Key: f.Key, Secret: g}, Path: f.Path}
			if peelV1Fingerprint(&sf) == fingerprint {
				return g
			}
		}
		return ""
	}
	for _, f := range rep.Images[0].Findings {
		if g := recovered(f.Fingerprint, f); g != "" {
			t.Errorf("%s: the guess %q reproduces the fingerprint", f.Location, g)
		}
		for _, g := range guesses {
			sf := scanner.Finding{Finding: rules.Finding{RuleID: f.Rule, Key: f.Key, Secret: g}, Path: f.Path}
			if report.Fingerprint(&sf, 1, nil) != f.Fingerprint {
				t.Errorf("%s: the fingerprint depends on the secret", f.Location)
			}
		}
		// The attack works on v1's fingerprint of the same finding.
		real := scanner.Finding{Finding: rules.Finding{RuleID: f.Rule, Key: f.Key, Secret: fixture.Password}, Path: f.Path}
		if g := recovered(peelV1Fingerprint(&real), f); g != fixture.Password {
			t.Errorf("%s: the dictionary does not break v1's fingerprint (%q)", f.Location, g)
		}
	}
}

// peelV1Fingerprint is the fingerprint of peel-report/v1: an unsalted hash
// of rule, path, key and secret.
func peelV1Fingerprint(f *scanner.Finding) string {
	h := sha256.New()
	for _, part := range []string{f.RuleID, strings.Join(f.Path, "!"), f.Key, f.Secret} {
		fmt.Fprintf(h, "%d:%s", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// TestTableDetails: the table names a private key by its type and a
// setting as "key NAME", by the rule's kind.
func TestTableDetails(t *testing.T) {
	res := &scanner.Result{Input: "x", Kind: "dir", Findings: []scanner.Finding{
		{Finding: rules.Finding{RuleID: rules.RulePrivateKey, Severity: rules.SeverityCritical, Line: 1, Key: "OPENSSH PRIVATE KEY", Secret: "b3BlbnNzaC1rZXk"}, Path: []string{"/root/.ssh/id_ed25519"}},
		{Finding: rules.Finding{RuleID: rules.RuleContentTrustKey, Severity: rules.SeverityHigh, Line: 1, Key: "role root", Secret: "cm9vdC1rZXk"}, Path: []string{"/root/.docker/trust/private/a.key"}},
		{Finding: rules.Finding{RuleID: rules.RuleConfigSecret, Severity: rules.SeverityHigh, Line: 2, Key: "db.password", Secret: "s3cret-1"}, Path: []string{"/app/application.properties"}},
	}}
	// In both layouts: a table's cell, a block's details.
	var out string
	for _, layout := range []struct {
		opts  report.TableOptions
		start string
	}{{report.TableOptions{Width: 200}, "│ "}, {report.TableOptions{}, "; "}} {
		var b bytes.Buffer
		if err := report.Table(layout.opts).Write(&b, report.Build([]*scanner.Result{res}, report.Options{})); err != nil {
			t.Fatal(err)
		}
		out += b.String()
		for _, want := range []string{"OPENSSH PRIVATE KEY", "role root", "key db.password"} {
			if !strings.Contains(b.String(), layout.start+want) {
				t.Errorf("table lacks %q:\n%s", layout.start+want, b.String())
			}
		}
	}
	if strings.Contains(out, "key OPENSSH") || strings.Contains(out, "key role") {
		t.Errorf("a private key's type is written as a setting:\n%s", out)
	}
}
