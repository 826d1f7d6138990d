package rules

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/testkeys"
)

// TestKeystoreVerifier: a keystore that opens with a password found in the
// scan is a verified finding naming where the password was, and proves
// every finding of that password (raised to critical); passwords whose
// settings name the keystore are tried first; a store whose password is
// not found is an unverified finding; a trust store is a dismissal; the
// findings given are not changed.
func TestKeystoreVerifier(t *testing.T) {
	e := engine(t)
	loc := func(rule, secret string, line int, refers ...string) Located {
		r, _ := Lookup(rule)
		return Located{Finding: Finding{RuleID: rule, Severity: r.Severity, Line: line, Secret: secret, Refers: refers}, Path: []string{"/app.jar", "application.properties"}}
	}
	findings := []Located{
		loc(RuleConfigSecret, "springboot", 3),
		loc("gitleaks.generic-api-key", "springboot", 4), // not a password: never tried
		loc(RuleURLCredentials, "springboot", 9),
		loc(RuleConfigSecret, "jwt-ks-pw-1", 6, "classpath:jwt.jks"),
	}
	before := fmt.Sprint(findings)
	kept := []File{
		{Path: []string{"/opt/keystore.jks"}, Data: testkeys.JKS("springboot", "spring")},
		{Path: []string{"/app.jar", "jwt.jks"}, Data: testkeys.JKS("jwt-ks-pw-1", "jwtkey")},
		{Path: []string{"/opt/other.jks"}, Data: testkeys.JKS("V3ry-unl1kely", "k")},
		{Path: []string{"/jre/lib/security/cacerts"}, Data: testkeys.TrustStore("changeit", "ca")},
	}
	vs := e.Verify(context.Background(), findings, kept, ScanOptions{})
	if len(vs) != 4 {
		t.Fatalf("%d verifications: %+v", len(vs), vs)
	}
	want := []struct {
		rule   string
		by     string
		proves []int
	}{
		{RuleKeystoreVerified, "/app.jar!application.properties:3", []int{0, 2}},
		{RuleKeystoreVerified, "/app.jar!application.properties:6", []int{3}},
		{RuleKeystorePrivateKey, "", nil},
	}
	for i, w := range want {
		v := vs[i]
		if v.File != i || v.Finding == nil || v.Finding.RuleID != w.rule || v.By != w.by || v.Opened != (w.by != "") ||
			!reflect.DeepEqual(v.Proves, w.proves) || v.Type != "JKS" {
			t.Errorf("keystore %d: %+v (finding %+v), want %+v", i, v, v.Finding, w)
		}
		if w.proves != nil && v.Severity != SeverityCritical {
			t.Errorf("keystore %d proves at %v, want critical", i, v.Severity)
		}
	}
	if v := vs[3]; v.Finding != nil || v.Dismissal == nil || !strings.Contains(v.Dismissal.Reason, "JKS trust store: no private keys (opens with the password from default password list)") {
		t.Errorf("trust store: %+v %+v", v, v.Dismissal)
	}
	if fmt.Sprint(findings) != before {
		t.Error("Verify changed the findings it was given")
	}
}

// TestKeystoreBudget: keystore verification shares a budget of bytes
// hashed per scan; when it runs out, the passwords left untried are
// reported, and the scan goes on.
func TestKeystoreBudget(t *testing.T) {
	ks := testkeys.JKS("the-right-one", "k")
	e, err := NewEngine(EngineOptions{NoGitleaks: true, KeystoreWork: int64(len(ks)) * 30}) // about 30 tries in all
	if err != nil {
		t.Fatal(err)
	}
	var findings []Located
	for i := 0; i < 25; i++ {
		findings = append(findings, Located{Finding: Finding{RuleID: RuleConfigSecret, Secret: fmt.Sprintf("wrong-%d", i), Line: i + 1}, Path: []string{"/a.properties"}})
	}
	findings = append(findings, Located{Finding: Finding{RuleID: RuleConfigSecret, Secret: "the-right-one", Line: 26}, Path: []string{"/a.properties"}})
	kept := []File{{Path: []string{"/one.jks"}, Data: ks}, {Path: []string{"/two.jks"}, Data: ks}, {Path: []string{"/three.jks"}, Data: ks}}
	vs := e.Verify(context.Background(), findings, kept, ScanOptions{})
	if len(vs) != 3 || !vs[0].Opened {
		t.Fatalf("verifications %+v", vs)
	}
	var reasons []string
	for _, v := range vs[1:] {
		if v.Opened || v.Finding.RuleID != RuleKeystorePrivateKey {
			t.Errorf("%s verified past the budget: %+v", kept[v.File].Path[0], v)
		}
		for _, in := range v.Incomplete {
			reasons = append(reasons, in.Reason)
		}
	}
	if len(reasons) == 0 || !strings.Contains(reasons[len(reasons)-1], "verification budget is used up") {
		t.Errorf("incomplete %q; want the budget reported", reasons)
	}
}

// TestKeystoreKeep: the verifier wants keystores by their magic bytes, and
// keeps only those it can read, saying why not.
func TestKeystoreKeep(t *testing.T) {
	e := engine(t)
	good := testkeys.JKS("pw-123456", "a")
	read := func(b []byte) func(int64) ([]byte, error) {
		return func(max int64) ([]byte, error) { return b[:min(int64(len(b)), max)], nil }
	}
	if !e.Wants(good[:16]) || e.Wants([]byte("server.port=8443\n")) {
		t.Error("Wants does not tell keystores by their first bytes")
	}
	if _, err := e.Keep(good, int64(len(good)), read(good)); err != nil {
		t.Errorf("a good keystore: %v", err)
	}
	if _, err := e.Keep(good, int64(len(good)-30), read(good[:len(good)-30])); err == nil || !strings.Contains(err.Error(), "malformed keystore") {
		t.Errorf("a truncated keystore: %v", err)
	}
	if _, err := e.Keep(good, 5<<20, read(good)); err == nil || !strings.Contains(err.Error(), "over the 4194304-byte limit") {
		t.Errorf("a keystore over the size limit: %v", err)
	}
}

// TestKeystoreInDependencyTests: a keystore among a dependency's test
// resources is dismissed as such, proves nothing, and is reported when
// dependency tests are asked for.
func TestKeystoreInDependencyTests(t *testing.T) {
	e := engine(t)
	findings := []Located{{Finding: Finding{RuleID: RuleConfigSecret, Severity: SeverityHigh, Line: 1, Secret: "dep-ks-pw-1"}, Path: []string{"/app/application.properties"}}}
	kept := []File{{Path: []string{"/usr/lib/python3/dist-packages/acme/tests/data/privatekey.p12"}, Data: testkeys.JKS("dep-ks-pw-1", "k")}}
	vs := e.Verify(context.Background(), findings, kept, ScanOptions{})
	if len(vs) != 1 || vs[0].Finding != nil || vs[0].Dismissal == nil || vs[0].Proves != nil ||
		!strings.HasPrefix(vs[0].Dismissal.Reason, "test resource of the dependency acme") {
		t.Fatalf("dependency test keystore: %+v", vs)
	}
	vs = e.Verify(context.Background(), findings, kept, ScanOptions{IncludeDependencyTests: true})
	if len(vs) != 1 || vs[0].Finding == nil || vs[0].Finding.RuleID != RuleKeystoreVerified || len(vs[0].Proves) != 1 {
		t.Fatalf("with dependency tests: %+v", vs)
	}
}
