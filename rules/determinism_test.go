package rules

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// TestSameInputSameFindings scans inputs on which two gitleaks rules match
// the same bytes (bittrex-access-key and bittrex-secret-key share their
// regexp; generic-api-key matches every assignment a provider rule does)
// many times, in small files and through windows: every scan must give the
// same findings in the same order. gitleaks' detector walks its rules in
// map order, so without a fixed order the rule kept changed between runs.
func TestSameInputSameFindings(t *testing.T) {
	e := engine(t)
	secret := "q7m2" + "xk9plr4tz8wv1ns6" + "hb3jc5df0ga2"
	for name, text := range map[string]string{
		"bittrex":        "bittrexToken=" + secret + "\n",
		"bittrex quoted": `String bittrexToken = "` + secret + `";` + "\n",
		"two rules":      "twitter_api_secret = \"" + strings.ToLower(secret) + "ab\"\nA=" + fakeAWSKeyID + "\n",
	} {
		for _, data := range []string{text, keywordNoise + text + keywordNoise} {
			first := e.ScanFile("/srv/app/settings.conf", []byte(data))
			if len(first.Findings) == 0 {
				t.Fatalf("%s: nothing found in %q", name, text)
			}
			for i := 0; i < 40; i++ {
				again := e.ScanFile("/srv/app/settings.conf", []byte(data))
				if !reflect.DeepEqual(again.Findings, first.Findings) {
					t.Fatalf("%s (%d bytes): scan %d found %+v, the first %+v", name, len(data), i+2, again.Findings, first.Findings)
				}
			}
		}
	}
	f := e.ScanFile("/srv/app/settings.conf", []byte("bittrexToken="+secret+"\n")).Findings
	if len(f) != 1 || f[0].RuleID != GitleaksPrefix+"bittrex-access-key" {
		t.Errorf("bittrex line: %+v, want one bittrex-access-key finding (the smaller rule ID of two equals)", f)
	}
}

// TestDedupeOrderIndependent gives dedupe the same findings in many orders:
// what it keeps must not depend on the order.
func TestDedupeOrderIndependent(t *testing.T) {
	in := []Finding{
		{RuleID: GitleaksPrefix + "bittrex-secret-key", Severity: SeverityCritical, Line: 3, Secret: "abcdefghijabcdefghij"},
		{RuleID: GitleaksPrefix + "bittrex-access-key", Severity: SeverityCritical, Line: 3, Secret: "abcdefghijabcdefghij"},
		{RuleID: GitleaksPrefix + "generic-api-key", Severity: SeverityLow, Line: 3, Secret: "otherotherother"},
		{RuleID: GitleaksPrefix + "generic-api-key", Severity: SeverityLow, Line: 4, Secret: "fourfourfour"},
		{RuleID: RuleConfigSecret, Severity: SeverityHigh, Line: 4, Key: "db.password", Secret: "fourfourfour"},
		{RuleID: GitleaksPrefix + "jwt", Severity: SeverityCritical, Line: 5, Secret: "eyJhbGciOi.eyJzdWIiOi.sig"},
		{RuleID: GitleaksPrefix + "jwt", Severity: SeverityCritical, Line: 5, Secret: "eyJhbGciOi.eyJzdWIiOi"},
	}
	spec := engine(t).specificity
	want := hitsOf(dedupe(in, spec))
	if len(want) != 3 {
		t.Fatalf("dedupe kept %v", want)
	}
	r := rand.New(rand.NewSource(2))
	for n := 0; n < 200; n++ {
		fs := append([]Finding(nil), in...)
		r.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
		if got := hitsOf(dedupe(fs, spec)); !reflect.DeepEqual(got, want) {
			t.Fatalf("order %d: dedupe kept %v, in another order %v", n, got, want)
		}
	}
	for _, f := range dedupe(in, spec) {
		if f.Line == 4 && f.Key != "db.password" {
			t.Errorf("line 4 lost its key: %+v", f)
		}
	}
}
