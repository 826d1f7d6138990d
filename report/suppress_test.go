package report

import (
	"strings"
	"testing"
)

func TestIgnoreFileGlobs(t *testing.T) {
	f, err := ParseIgnoreFile(".peelignore", strings.NewReader(`
# comments and blank lines are skipped

/usr/share/doc/**                 # vendor docs
**!BOOT-INF/lib/*-tests.jar!**
/opt/*.jks
config Env DEMO_PASSWORD
0123456789abcdef0123456789abcdef  # one finding
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path        []string
		fingerprint string
		silenced    bool
	}{
		{[]string{"/usr/share/doc/app/README.md"}, "", true},
		{[]string{"/usr/share/docs/x"}, "", false},
		{[]string{"/app.jar", "BOOT-INF/lib/acme-tests.jar", "x/application.properties"}, "", true},
		{[]string{"/app.jar", "BOOT-INF/lib/acme.jar", "x/application.properties"}, "", false},
		{[]string{"/opt/keystore.jks"}, "", true},
		{[]string{"/opt/keys/keystore.jks"}, "", false}, // * stays within a segment
		{[]string{"/opt/a.jar", "b.jks"}, "", false},    // and within a member
		{[]string{"config Env DEMO_PASSWORD"}, "", true},
		{[]string{"/anything"}, "0123456789abcdef0123456789abcdef", true},
		{[]string{"/anything"}, "ffffffffffffffffffffffffffffffff", false},
	} {
		s := f.match(&Finding{Path: tc.path, Fingerprint: tc.fingerprint})
		if (s != nil) != tc.silenced {
			t.Errorf("%q (%s): silenced %v, want %v", tc.path, tc.fingerprint, s != nil, tc.silenced)
		}
	}
	if s := f.match(&Finding{Path: []string{"/usr/share/doc/x"}}); s.Reason != "vendor docs" || !strings.HasPrefix(s.Entry, ".peelignore:4: ") {
		t.Errorf("suppression %+v", s)
	}
}

func TestLoadBaselineRefusesOtherJSON(t *testing.T) {
	for _, in := range []string{`{"schema": "other/v1"}`, `not json`, `[]`} {
		if _, err := LoadBaseline("b.json", strings.NewReader(in)); err == nil {
			t.Errorf("LoadBaseline(%q) accepted it", in)
		}
	}
	b, err := LoadBaseline("b.json", strings.NewReader(`{"schema": "peel-report/v1", "images": [{"findings": [{"fingerprint": "aa"}], "suppressed": [{"fingerprint": "bb"}]}]}`))
	if err != nil || b.match(&Finding{Fingerprint: "aa"}) == nil || b.match(&Finding{Fingerprint: "bb"}) == nil || b.match(&Finding{Fingerprint: "cc"}) != nil {
		t.Errorf("baseline %+v, %v", b, err)
	}
}
