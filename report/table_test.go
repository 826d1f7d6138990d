package report_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/olekukonko/tablewriter/pkg/twwidth"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/rules"
	"github.com/peelscan/peel/scanner"
)

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// TestTableGolden renders the table of the book's v1 and of the zoo (every
// severity) at 80 and 200 columns, with and without colour, and with no
// terminal, and compares each with testdata/NAME.golden (go test ./report
// -update rewrites them). Every line fits its width; findings are sorted
// worst first; colour is there only when asked for; no secret shows.
func TestTableGolden(t *testing.T) {
	v1 := scan(t, "sts-v1.tar", fixture.STSv1)
	zoo := scan(t, "zoo.tar", fixture.Zoo)
	for _, tc := range []struct {
		name   string
		result *scanner.Result
		opts   report.TableOptions
	}{
		{"v1.table-80", v1, report.TableOptions{Width: 80}},
		{"v1.table-80-color", v1, report.TableOptions{Width: 80, Color: true}},
		{"v1.table-200", v1, report.TableOptions{Width: 200}},
		{"v1.table-200-color", v1, report.TableOptions{Width: 200, Color: true}},
		{"zoo.table-80", zoo, report.TableOptions{Width: 80}},
		{"zoo.table-80-color", zoo, report.TableOptions{Width: 80, Color: true}},
		{"zoo.table-200", zoo, report.TableOptions{Width: 200}},
		{"zoo.table-200-color", zoo, report.TableOptions{Width: 200, Color: true}},
		{"zoo.table", zoo, report.TableOptions{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			rep := report.Build([]*scanner.Result{tc.result}, report.Options{ToolVersion: "test"})
			if err := report.Table(tc.opts).Write(&buf, rep); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
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
			if out != string(want) {
				t.Errorf("%s differs from %s; run go test ./report -update if the change is intended\n got:\n%s", tc.name, golden, out)
			}
			for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
				if w := twwidth.Width(l); tc.opts.Width > 0 && w > tc.opts.Width {
					t.Errorf("line %d is %d columns wide, over %d: %q", i+1, w, tc.opts.Width, l)
				}
			}
			if colored := ansi.MatchString(out); colored != tc.opts.Color {
				t.Errorf("colour %v, want %v", colored, tc.opts.Color)
			}
			plain := ansi.ReplaceAllString(out, "")
			// Worst first: the severities in the order they appear.
			var seen []rules.Severity
			for _, m := range regexp.MustCompile(`(?m)(?:^| )(CRITICAL|HIGH|MEDIUM|LOW) |│ (critical|high|medium|low) +│`).FindAllStringSubmatch(plain, -1) {
				s, _ := rules.ParseSeverity(m[1] + m[2])
				seen = append(seen, s)
			}
			for i := 1; i < len(seen); i++ {
				if seen[i] > seen[i-1] && tc.opts.Width < report.WideTable {
					t.Errorf("%s after %s", seen[i], seen[i-1])
				}
			}
			if len(seen) == 0 {
				t.Error("no severities found")
			}
			for _, s := range []string{fixture.Password} {
				if strings.Contains(out, s) {
					t.Errorf("the secret %.4s… shows", s)
				}
			}
			for _, p := range fixture.ZooPlanted {
				if len(p.Secret) >= 8 && strings.Contains(out, p.Secret) {
					t.Errorf("the secret of %s shows", p.Location)
				}
			}
		})
	}
}

// TestExcerptMasked: the finding's secret is masked where it stands in the
// source, however short, and every other secret of the report too; with
// ShowSecrets the source is as in the file.
func TestExcerptMasked(t *testing.T) {
	res := &scanner.Result{Input: "x", Kind: "dir", Findings: []scanner.Finding{
		{Finding: rules.Finding{RuleID: rules.RuleConfigSecret, Severity: rules.SeverityHigh, Line: 2, Key: "db.pw", Secret: "pw1"},
			Path:    []string{"app.properties"},
			Excerpt: &scanner.Excerpt{First: 1, Lines: []string{"other=long-secret-value-9", "db.pw=pw1 # pw1x"}, Spans: []scanner.Span{{Line: 1, Start: 6, End: 9}}}},
		{Finding: rules.Finding{RuleID: rules.RuleConfigSecret, Severity: rules.SeverityLow, Line: 1, Key: "other", Secret: "long-secret-value-9"},
			Path: []string{"app.properties"}},
	}}
	rep := report.Build([]*scanner.Result{res}, report.Options{})
	ex := rep.Images[0].Findings[0].Excerpt
	if ex == nil || ex.FirstLine != 1 || ex.Lines[0] != "other=lo…" || ex.Lines[1] != "db.pw=… # pw1x" {
		t.Errorf("masked excerpt %+v", ex)
	}
	shown := report.Build([]*scanner.Result{res}, report.Options{ShowSecrets: true}).Images[0].Findings[0].Excerpt
	if shown.Lines[1] != "db.pw=pw1 # pw1x" || shown.Lines[0] != "other=long-secret-value-9" {
		t.Errorf("--show-secrets excerpt %+v", shown)
	}
	// Spans that do not fit their lines: no excerpt rather than a guess.
	res.Findings[0].Excerpt.Spans = []scanner.Span{{Line: 1, Start: 6, End: 99}}
	if ex := report.Build([]*scanner.Result{res}, report.Options{}).Images[0].Findings[0].Excerpt; ex != nil {
		t.Errorf("bad spans gave %+v", ex)
	}

	// --severity: the low finding is left out and counted; its secret is
	// still masked wherever it appears.
	res.Findings[0].Excerpt.Spans = []scanner.Span{{Line: 1, Start: 6, End: 9}}
	rep = report.Build([]*scanner.Result{res}, report.Options{Severities: []rules.Severity{rules.SeverityHigh}})
	if len(rep.Images[0].Findings) != 1 || rep.Summary.Filtered != 1 || rep.Images[0].Findings[0].Excerpt.Lines[0] != "other=lo…" {
		t.Errorf("filtered: %+v summary %+v", rep.Images[0].Findings, rep.Summary)
	}
	if !strings.Contains(report.SummaryLine(rep), "1 of other severities not shown") {
		t.Errorf("summary %q", report.SummaryLine(rep))
	}
}

// TestSummaryCacheWords: what came from the layer cache is said to, and is
// not counted as read.
func TestSummaryCacheWords(t *testing.T) {
	for _, tc := range []struct {
		stats  scanner.Stats
		header string
		line   string
	}{
		{scanner.Stats{Layers: 5, CachedLayers: 5}, "5 layers, all from the layer cache)", "All 5 layer(s) came from the layer cache (nothing read again) in"},
		{scanner.Stats{Layers: 5, CachedLayers: 2, Files: 7, Archives: 1, Bytes: 2048}, "5 layers, 2 from the layer cache; 7 files, 1 archives read)", "Read 3 layer(s), 7 file(s), 1 archive(s), 2.0 KiB; 2 layer(s) from the layer cache in"},
		{scanner.Stats{Files: 3, Bytes: 10, Skipped: 2}, "(dir, 3 files, 0 archives, 2 files skipped)", "Read 3 file(s), 0 archive(s), 10 B; 2 file(s) skipped in"},
	} {
		rep := report.Build([]*scanner.Result{{Input: "x", Kind: "dir", Stats: tc.stats}}, report.Options{})
		var b bytes.Buffer
		report.Table(report.TableOptions{}).Write(&b, rep)
		if !strings.Contains(b.String(), tc.header) || !strings.Contains(b.String(), tc.line) {
			t.Errorf("%+v:\n%s\nwant %q and %q", tc.stats, b.String(), tc.header, tc.line)
		}
	}
}
