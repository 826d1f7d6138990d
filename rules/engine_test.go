package rules

import (
	"reflect"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
)

func engine(t *testing.T) *Engine {
	t.Helper()
	e, err := DefaultEngine()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// hit is a finding a file must yield: rule, line and secret.
type hit struct {
	rule   string
	line   int
	secret string
}

func checkHits(t *testing.T, r Result, want []hit) {
	t.Helper()
	var got []hit
	for _, f := range r.Findings {
		got = append(got, hit{f.RuleID, f.Line, f.Secret})
	}
	if len(got) != len(want) {
		t.Fatalf("got %d findings %+v, want %d %+v (dismissed %+v)", len(got), got, len(want), want, r.Dismissed)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("finding %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// keywordNoise is 100 lines dense in gitleaks keywords that start no
// secret: a file of it is scanned by windows, none of which reports.
var keywordNoise = strings.Repeat("the key of this map is the user name; pass the token list to the client.\n", 100)

// Synthetic provider tokens, built at run time so that no token-shaped
// string sits in the source.
var (
	fakeAWSKeyID  = "AKIA" + strings.Repeat("Q", 4) + "7PEELTESTKEY"[:8] + "Z2X4"
	fakeGitHubPAT = "ghp_" + "Pe3lTestT0ken" + "R4nd0mCh4rsXyZ" + "0123456789"[:9]
)

func TestCustomGitleaksConfig(t *testing.T) {
	cfg := []byte(strings.ReplaceAll(fixture.ZooGitleaksConfig, "severity:high", "severity:medium"))
	e, err := NewEngine(EngineOptions{GitleaksConfig: cfg})
	if err != nil {
		t.Fatal(err)
	}
	r := e.ScanFile("/app/run.sh", []byte("x\nacme.id = "+fixture.ZooCustomToken+"\n"))
	checkHits(t, r, []hit{{"gitleaks.acme-internal-token", 2, fixture.ZooCustomToken}})
	if rule, ok := e.Rule("gitleaks.acme-internal-token"); !ok || rule.Severity != SeverityMedium || rule.Title != "ACME internal service token" {
		t.Errorf("catalogue entry %+v", rule)
	}
	if _, ok := e.Rule("gitleaks.aws-access-token"); !ok {
		t.Error("[extend] useDefault lost the default rules")
	}
	if e.Version() == engine(t).Version() {
		t.Error("a custom config did not change the ruleset version")
	}
	if _, err := NewEngine(EngineOptions{GitleaksConfig: []byte("[[rules]\nid=")}); err == nil {
		t.Error("a malformed config was accepted")
	}
}

func TestIsText(t *testing.T) {
	for in, want := range map[string]bool{"plain text\n": true, "caf\xc3\xa9": true, "caf\xe9 latin-1": true, "\x00\x01bin": false, "\xca\xfe\xba\xbe\x00": false, "cut \xe2\x82": true,
		utf16("db.password=x\r\n", false): true, utf16("caf\u00e9\n", true): true, utf16("cut", false)[:5]: true,
		"\xff\xfe\x01\x00\x02\x00binary": false, "\xff\xfe\x00\x00a\x00\x00\x00": false} {
		if got := IsText([]byte(in)); got != want {
			t.Errorf("IsText(%q) = %v", in, got)
		}
	}
}

// TestURLWindows: credentials in URLs are found on long lines, across a
// window's cut, once each, with their line numbers.
func TestURLWindows(t *testing.T) {
	e := engine(t)
	long := strings.Repeat("see https://example.com/docs/page ", 58) // past one window
	in := "x\n" + long + "postgres://app:url-window-pw-1@db/app " + long + "redis://:url-window-pw-2@cache\nlast\n"
	checkHits(t, e.ScanFile("/app/notes.conf", []byte(in)), []hit{
		{RuleURLCredentials, 2, "url-window-pw-1"}, {RuleURLCredentials, 2, "url-window-pw-2"},
	})
	// A file made of nothing but markers is read in linear time.
	e.ScanFile("/app/hostile.conf", []byte(strings.Repeat("://", 1<<20)))
}

func BenchmarkScanFileURLs(b *testing.B) {
	e, _ := DefaultEngine()
	data := []byte(strings.Repeat("<a href=\"https://example.com/docs/page\">docs</a> and more prose around it\n", 3000))
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		e.ScanFile("/usr/share/app/index.html", data)
	}
}

// TestGitleaksGlobalAllowlists checks gitleaks' global allowlists after the
// engine moved their paths out of the per-window detectors: an OR
// allowlist's paths skip a file, its regexes still drop findings anywhere,
// and an AND allowlist's paths count only with its other checks; the same
// for files scanned whole and by windows.
func TestGitleaksGlobalAllowlists(t *testing.T) {
	cfg := `[extend]
useDefault = true

[[allowlists]]
description = "vendored code"
paths = ['''/vendor/''']
regexes = ['''R4nd0mCh4rs''']

[[allowlists]]
description = "fixtures with sample keys"
condition = "AND"
paths = ['''/fixtures/''']
stopWords = ["qqqq"]
`
	e, err := NewEngine(EngineOptions{GitleaksConfig: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	content := "aws = " + fakeAWSKeyID + "\ngh = " + fakeGitHubPAT + "\n"
	noise := keywordNoise
	for _, c := range []struct {
		file     string
		aws, ghp bool
	}{
		{"/app/src/a.conf", true, false},
		{"/app/vendor/lib/a.conf", false, false},
		{"/app/fixtures/a.conf", false, false},
		{"/app/fixtures-not/a.conf", true, false},
	} {
		for _, size := range []string{"whole", "windows"} {
			in := content
			if size == "windows" {
				in = noise + content + noise
			}
			got := map[string]bool{}
			for _, f := range e.ScanFile(c.file, []byte(in)).Findings {
				got[f.RuleID] = true
			}
			if got["gitleaks.aws-access-token"] != c.aws || got["gitleaks.github-pat"] != c.ghp {
				t.Errorf("%s (%s): findings %v, want aws %v, github-pat %v", c.file, size, got, c.aws, c.ghp)
			}
		}
	}
	// Without the allowlists, every one of those files reports both.
	for _, f := range []string{"/app/vendor/lib/a.conf", "/app/fixtures/a.conf"} {
		if n := len(engine(t).ScanFile(f, []byte(content)).Findings); n < 2 {
			t.Errorf("default rules found %d in %s, want 2", n, f)
		}
	}
}

// TestCustomRulesOpenWindows: a team's own rule, whose regexp peel knows
// nothing of, fires in a file scanned by windows as in a small one, even
// where gitleaks' own rules' gates would stop its keyword (a short word
// followed by no token).
func TestCustomRulesOpenWindows(t *testing.T) {
	cfg := `[extend]
useDefault = true

[[rules]]
id = "acme-pin"
description = "ACME door PIN"
regex = '''pin: ([0-9]{6})'''
keywords = ["pin"]
`
	e, err := NewEngine(EngineOptions{GitleaksConfig: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	noise := keywordNoise
	for _, in := range []string{"door pin: 204817\n", noise + "door pin: 204817\n" + noise} {
		r := e.ScanFile("/app/doors.txt", []byte(in))
		if len(r.Findings) != 1 || r.Findings[0].RuleID != "gitleaks.acme-pin" || r.Findings[0].Secret != "204817" {
			t.Errorf("%d bytes: findings %+v", len(in), r.Findings)
		}
	}
}

// TestPathOnlyRules: a rule without a regexp (gitleaks' pkcs12-file, or a
// team's rule flagging a file by its name) reports the file once, whatever
// its size and whether it has keyword windows, unless a global allowlist
// skips its path.
func TestPathOnlyRules(t *testing.T) {
	cfg := `[extend]
useDefault = true

[[rules]]
id = "prod-env-file"
description = "Production env file"
path = '''\.env\.prod$'''

[[allowlists]]
paths = ['''^/fixtures/''']
`
	e, err := NewEngine(EngineOptions{GitleaksConfig: []byte(cfg)})
	if err != nil {
		t.Fatal(err)
	}
	noise := keywordNoise
	for _, c := range []struct {
		file, rule string
		want       int
	}{
		{"/app/.env.prod", "gitleaks.prod-env-file", 1},
		{"/app/cert.p12", "gitleaks.pkcs12-file", 1},
		{"/fixtures/.env.prod", "gitleaks.prod-env-file", 0},
		{"/app/.env.prod.bak", "gitleaks.prod-env-file", 0},
	} {
		for _, in := range []string{"A=1\n", noise, noise + "token: " + fakeGitHubPAT + "\n" + noise} {
			n := 0
			for _, f := range e.ScanFile(c.file, []byte(in)).Findings {
				if f.RuleID == c.rule {
					n++
				}
			}
			if n != c.want {
				t.Errorf("%s, %d bytes: %d %s findings, want %d", c.file, len(in), n, c.rule, c.want)
			}
		}
	}
}

// TestEnginesEachExtendDefaults: every engine built in a process from a
// config that extends gitleaks' defaults has them, and its own allowlists
// that target a default rule, however many engines came before (gitleaks
// counts extends in a package variable).
func TestEnginesEachExtendDefaults(t *testing.T) {
	cfg := `[extend]
useDefault = true

[[rules]]
id = "acme-pin"
regex = '''pin: ([0-9]{6})'''
keywords = ["pin"]

[[allowlists]]
targetRules = ["github-pat"]
regexes = ['''R4nd0mCh4rs''']
`
	for i := 0; i < 4; i++ {
		e, err := NewEngine(EngineOptions{GitleaksConfig: []byte(cfg)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, f := range e.ScanFile("/app/a.conf", []byte("aws = "+fakeAWSKeyID+"\ngh = "+fakeGitHubPAT+"\ndoor pin: 204817\n")).Findings {
			got[f.RuleID] = true
		}
		want := map[string]bool{"gitleaks.aws-access-token": true, "gitleaks.acme-pin": true}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("engine %d: findings %v, want %v", i+1, got, want)
		}
	}
}

// TestVersionFollowsDetectors: the engine's version is the same for the
// same detectors and config, and changes when a detector's version, one
// of its rules or one of its examples does.
func TestVersionFollowsDetectors(t *testing.T) {
	a, err := NewEngine(EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Version() != engine(t).Version() {
		t.Fatal("two engines of the same rules have different versions")
	}
	variants := map[string]func(Info) Info{
		"version": func(i Info) Info { i.Version++; return i },
		"rule":    func(i Info) Info { i.Rules[0].Severity = SeverityLow; return i },
		"example": func(i Info) Info { i.Rules[0].Examples[0].Text += " "; return i },
	}
	for name, change := range variants {
		e := *a
		e.detectors = append([]Detector(nil), a.detectors...)
		e.detectors[0] = changedInfo{e.detectors[0], change}
		if e.deriveVersion(nil) == a.deriveVersion(nil) {
			t.Errorf("changing a detector's %s keeps the version", name)
		}
	}
	if no, _ := NewEngine(EngineOptions{NoGitleaks: true}); no.Version() == a.Version() {
		t.Error("turning gitleaks off keeps the version")
	}
}

type changedInfo struct {
	Detector
	change func(Info) Info
}

func (c changedInfo) Info() Info { return c.change(c.Detector.Info()) }

// TestScanFormat: a file read under a link's name is read by the format
// detector that name calls for and no other (the detectors that read every
// file read it under its own name); Format names that detector.
func TestScanFormat(t *testing.T) {
	e := engine(t)
	data := []byte("db.password=link-pw-1\nurl=postgres://app:link-url-pw@db/app\n")
	checkHits(t, e.ScanFormat(&File{Path: []string{"/app/application.properties"}, Data: data}, ScanOptions{}),
		[]hit{{RuleConfigSecret, 1, "link-pw-1"}})
	checkHits(t, e.Scan(&File{Path: []string{"/etc/app/conf.v3"}, Data: data}, ScanOptions{}),
		[]hit{{RuleURLCredentials, 2, "link-url-pw"}})
	if r := e.ScanFormat(&File{Path: []string{"/etc/app/conf.v3"}, Data: data}, ScanOptions{}); len(r.Findings) != 0 {
		t.Errorf("no format, yet findings %+v", r.Findings)
	}
	for name, want := range map[string]string{"/app/application.properties": "properties", "/app/config/application.yml": "yaml", "/app/.env": "keyvalue", "/etc/app/conf.v3": ""} {
		if got := e.Format([]string{name}); got != want {
			t.Errorf("Format(%q) = %q, want %q", name, got, want)
		}
	}
}
