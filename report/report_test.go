package report_test

import (
	"bytes"
	"context"
	"flag"
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
	f := scanner.Finding{Finding: rules.Finding{RuleID: rules.RuleConfigSecret, Line: 3, Key: "a.password", Secret: "s3cret-1"}, Path: []string{"/app.jar", "application.properties"}, Layer: 3}
	moved := f
	moved.Layer, moved.Line = 7, 9 // rebuilt: other layer, lines shifted
	other := f
	other.Secret = "s3cret-2"
	if report.Fingerprint(&f) != report.Fingerprint(&moved) {
		t.Error("fingerprint changed with the layer or line")
	}
	if report.Fingerprint(&f) == report.Fingerprint(&other) {
		t.Error("fingerprint did not change with the secret")
	}
	if strings.Contains(report.Fingerprint(&f), "s3cret") || len(report.Fingerprint(&f)) != 32 {
		t.Errorf("fingerprint %q", report.Fingerprint(&f))
	}
}

// TestTableDetails: the table names a private key by its type and a
// setting as "key NAME", by the rule's kind.
func TestTableDetails(t *testing.T) {
	res := &scanner.Result{Input: "x", Kind: "dir", Findings: []scanner.Finding{
		{Finding: rules.Finding{RuleID: rules.RulePrivateKey, Severity: rules.SeverityCritical, Line: 1, Key: "OPENSSH PRIVATE KEY", Secret: "b3BlbnNzaC1rZXk"}, Path: []string{"/root/.ssh/id_ed25519"}},
		{Finding: rules.Finding{RuleID: rules.RuleContentTrustKey, Severity: rules.SeverityHigh, Line: 1, Key: "role root", Secret: "cm9vdC1rZXk"}, Path: []string{"/root/.docker/trust/private/a.key"}},
		{Finding: rules.Finding{RuleID: rules.RuleConfigSecret, Severity: rules.SeverityHigh, Line: 2, Key: "db.password", Secret: "s3cret-1"}, Path: []string{"/app/application.properties"}},
	}}
	w, _ := report.ByName("table")
	var b bytes.Buffer
	if err := w.Write(&b, report.Build([]*scanner.Result{res}, report.Options{})); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"│ OPENSSH PRIVATE KEY", "│ role root", "│ key db.password"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "key OPENSSH") || strings.Contains(out, "key role") {
		t.Errorf("a private key's type is written as a setting:\n%s", out)
	}
}
