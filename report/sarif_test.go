package report_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/scanner"
)

func sarifOf(t *testing.T, results ...*scanner.Result) []byte {
	t.Helper()
	w, _ := report.ByName("sarif")
	var buf bytes.Buffer
	if err := w.Write(&buf, report.Build(results, report.Options{ToolVersion: "1.2.3"})); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSARIFSchema validates peel's SARIF for v1 and the zoo against the
// OASIS SARIF 2.1.0 JSON schema (testdata/sarif-schema-2.1.0.json).
func TestSARIFSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	for name, res := range map[string]*scanner.Result{
		"v1":  scan(t, "sts-v1.tar", fixture.STSv1),
		"zoo": scan(t, "zoo.tar", fixture.Zoo),
		"v2":  scan(t, "sts-v2.tar", fixture.STSv2),
	} {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sarifOf(t, res)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s: SARIF does not validate: %v", name, err)
		}
	}
	// The check can fail: a run without tool.driver, a bad level.
	for _, bad := range []string{
		`{"version": "2.1.0", "runs": [{"tool": {}}]}`,
		`{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "peel"}}, "results": [{"message": {"text": "x"}, "level": "severe"}]}]}`,
	} {
		doc, _ := jsonschema.UnmarshalJSON(strings.NewReader(bad))
		if sch.Validate(doc) == nil {
			t.Errorf("invalid SARIF accepted: %s", bad)
		}
	}
}

func TestSARIFContents(t *testing.T) {
	out := sarifOf(t, scan(t, "sts-v1.tar", fixture.STSv1))
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID              string
						FullDescription struct{ Text string }
						Help            struct{ Text, Markdown string }
						Properties      map[string]any
					}
				}
			}
			Results []struct {
				RuleID              string
				Level               string
				Message             struct{ Text string }
				PartialFingerprints map[string]string
				Locations           []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI string }
						Region           *struct{ StartLine int }
					}
				}
				Properties map[string]any
			}
		}
	}
	if err := json.Unmarshal(out, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Results) != 4 {
		t.Fatalf("want one run with 4 results:\n%s", out)
	}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		if r.FullDescription.Text == "" || r.Help.Text == "" || r.Properties["security-severity"] == nil {
			t.Errorf("rule %s lacks a full description, help or security-severity", r.ID)
		}
	}
	res := log.Runs[0].Results[0]
	loc := res.Locations[0].PhysicalLocation
	if loc.ArtifactLocation.URI != fixture.JarName+"!BOOT-INF/classes/application.properties" || loc.Region.StartLine != 3 {
		t.Errorf("location %+v", loc)
	}
	if !strings.Contains(res.Message.Text, "/"+fixture.JarName+"!BOOT-INF/classes/application.properties:3") {
		t.Errorf("message lacks the readable chain: %q", res.Message.Text)
	}
	if res.Level != "error" || len(res.PartialFingerprints[report.FingerprintKey]) != 32 {
		t.Errorf("level %q fingerprints %v", res.Level, res.PartialFingerprints)
	}
	for _, k := range []string{"layer", "layerDiffId", "createdBy", "verified"} {
		if _, ok := res.Properties[k]; !ok {
			t.Errorf("result properties lack %q: %v", k, res.Properties)
		}
	}
	if bytes.Contains(out, []byte(fixture.Password)) {
		t.Error("the SARIF shows the secret")
	}
}

func TestArtifactURI(t *testing.T) {
	for _, tc := range []struct {
		chain []string
		want  string
	}{
		{[]string{"/app.jar", "BOOT-INF/classes/application.properties"}, "app.jar!BOOT-INF/classes/application.properties"},
		{[]string{"/opt/my keys/ks.jks"}, "opt/my%20keys/ks.jks"},
		{[]string{"/image.tar", "sha256:abc/layer.tar"}, "image.tar!sha256%3Aabc/layer.tar"},
		{[]string{"/x/ü%#?.txt"}, "x/%C3%BC%25%23%3F.txt"},
		{[]string{"config Env DB_PASSWORD"}, "image-config/Env/DB_PASSWORD"},
		{[]string{"history[5] created_by"}, "image-config/history/5"},
	} {
		got := report.ArtifactURI(tc.chain)
		if got != tc.want {
			t.Errorf("ArtifactURI(%q) = %q, want %q", tc.chain, got, tc.want)
		}
		u, err := url.Parse(got)
		if err != nil || u.Scheme != "" || u.IsAbs() || strings.HasPrefix(got, "/") {
			t.Errorf("%q is not a relative reference: %v", got, err)
		}
	}
}

// TestSARIFMultitool runs Microsoft's SARIF Multitool with GitHub's
// ingestion rules on the v1 and zoo SARIF and expects no error. It needs
// the Multitool (npm @microsoft/sarif-multitool): PEEL_SARIF_MULTITOOL
// names its binary; .ci/run and `make tools` install it.
func TestSARIFMultitool(t *testing.T) {
	bin := os.Getenv("PEEL_SARIF_MULTITOOL")
	if bin == "" {
		t.Skip("PEEL_SARIF_MULTITOOL is not set: run `make tools` (npm package @microsoft/sarif-multitool) to check SARIF with it")
	}
	dir := t.TempDir()
	for name, res := range map[string]*scanner.Result{
		"v1":  scan(t, "sts-v1.tar", fixture.STSv1),
		"zoo": scan(t, "zoo.tar", fixture.Zoo),
	} {
		in, out := filepath.Join(dir, name+".sarif"), filepath.Join(dir, name+".validation.sarif")
		if err := os.WriteFile(in, sarifOf(t, res), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "validate", "--rule-kind", "Sarif;Gh", "-o", out, in)
		cmd.Env = append(os.Environ(), "DOTNET_CLI_TELEMETRY_OPTOUT=1")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: Multitool: %v\n%s", name, err, b)
		}
		errs, warnings := countLevels(t, out)
		t.Logf("%s: Multitool reports %d errors, %d warnings", name, len(errs), warnings)
		for _, e := range errs {
			t.Errorf("%s: %s", name, e)
		}
	}
}

// countLevels reads the Multitool's own SARIF output: a result's level is
// its own, else its rule's default, else warning.
func countLevels(t *testing.T, path string) (errs []string, warnings int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID                   string
						DefaultConfiguration struct{ Level string }
						MessageStrings       map[string]struct{ Text string }
					}
				}
			}
			Results []struct {
				RuleID    string
				RuleIndex int
				Level     string
				Message   struct {
					ID        string
					Arguments []string
				}
			}
		}
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	for _, run := range log.Runs {
		for _, r := range run.Results {
			lvl := r.Level
			if lvl == "" && r.RuleIndex < len(run.Tool.Driver.Rules) {
				lvl = run.Tool.Driver.Rules[r.RuleIndex].DefaultConfiguration.Level
			}
			switch lvl {
			case "error":
				errs = append(errs, r.RuleID+" "+r.Message.ID+" "+strings.Join(r.Message.Arguments, " | "))
			case "", "warning":
				warnings++
			}
		}
	}
	return errs, warnings
}
