package report

import (
	"encoding/json"
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
		if _, err := LoadBaseline("b.json", strings.NewReader(in), nil); err == nil {
			t.Errorf("LoadBaseline(%q) accepted it", in)
		}
	}
	b, err := LoadBaseline("b.json", strings.NewReader(`{"schema": "peel-report/v2", "fingerprints": {"mode": "location"}, "images": [{"findings": [{"fingerprint": "aa"}], "suppressed": [{"fingerprint": "bb"}]}]}`), nil)
	if err != nil || b.match(&Finding{Fingerprint: "aa"}) == nil || b.match(&Finding{Fingerprint: "bb"}) == nil || b.match(&Finding{Fingerprint: "cc"}) != nil {
		t.Errorf("baseline %+v, %v", b, err)
	}
}

// TestLoadBaselineRefusesOtherFingerprints: a baseline whose fingerprints
// were made another way could match nothing, or the wrong findings; it is
// refused with what to do.
func TestLoadBaselineRefusesOtherFingerprints(t *testing.T) {
	key, other := []byte("0123456789abcdef-key-one"), []byte("0123456789abcdef-key-two")
	keyed := `{"schema": "peel-report/v2", "fingerprints": ` + mustJSON(fingerprintsOf(key)) + `, "images": []}`
	byLocation := `{"schema": "peel-report/v2", "fingerprints": {"mode": "location"}, "images": []}`
	for _, tc := range []struct {
		baseline string
		key      []byte
		want     string // "" when accepted
	}{
		{`{"schema": "peel-report/v1", "images": []}`, nil, "b.json: a peel-report/v1 report, whose fingerprints hash the secret itself; this peel writes peel-report/v2, whose fingerprints do not: regenerate the baseline"},
		{byLocation, nil, ""},
		{keyed, key, ""},
		{keyed, nil, "made with a fingerprint key (key id " + fingerprintsOf(key).KeyID + ") and this scan has none"},
		{byLocation, key, "made without a fingerprint key and this scan has one"},
		{keyed, other, "made with another fingerprint key"},
	} {
		_, err := LoadBaseline("b.json", strings.NewReader(tc.baseline), tc.key)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s with key %q: %v", tc.baseline, tc.key, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s with key %q: %v, want %q", tc.baseline, tc.key, err, tc.want)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
