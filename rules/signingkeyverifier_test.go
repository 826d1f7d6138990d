package rules

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
)

// TestSigningKeyVerifier: a cosign key is reported verified, and critical,
// when a password found in the same scan opens it (the passphrase
// finding is proven too), or when it opens with the empty passphrase; it
// stays high and unverified otherwise; a key whose scrypt parameters were
// tampered with is not tried.
func TestSigningKeyVerifier(t *testing.T) {
	e := engine(t)
	pass := Located{Finding: newFinding(RuleSigningPassphrase, 0, "COSIGN_PASSWORD", "right-pass"), Path: []string{"config Env COSIGN_PASSWORD"}}
	other := Located{Finding: newFinding(RuleConfigSecret, 3, "db.password", "db-pass"), Path: []string{"/app/application.properties"}}
	key := exampleCosignKey("verifier", "right-pass")
	if !e.Wants(key) {
		t.Fatal("the verifier does not want a cosign key file")
	}
	if e.Wants([]byte("# notes\n" + string(key))) {
		t.Error("the verifier wants a file that does not start with a cosign key")
	}
	empty := exampleCosignKey("verifier-empty", "")
	p, _ := pem.Decode(key)
	tampered := pem.EncodeToMemory(&pem.Block{Type: p.Type, Bytes: bytes.Replace(p.Bytes, []byte(`"N":32768`), []byte(`"N":1073741824`), 1)})
	for _, tc := range []struct {
		name     string
		findings []Located
		file     []byte
		opened   bool
		by       string
		proves   []int
		severity Severity
		reason   string
	}{
		{"passphrase in the image", []Located{other, pass}, key, true, "config Env COSIGN_PASSWORD", []int{1}, SeverityCritical, ""},
		{"wrong passwords", []Located{other}, key, false, "", nil, SeverityHigh, ""},
		{"empty passphrase", []Located{other}, empty, true, emptyPassphrase, nil, SeverityCritical, ""},
		{"tampered parameters", []Located{pass}, tampered, false, "", nil, SeverityNone, "unsupported scrypt parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vs := e.Verify(context.Background(), tc.findings, []File{{Path: []string{"/root/cosign.key"}, Data: tc.file}}, ScanOptions{})
			if len(vs) != 1 {
				t.Fatalf("%d verifications", len(vs))
			}
			v := vs[0]
			if tc.reason != "" {
				if v.Finding == nil || v.Opened || len(v.Incomplete) != 1 || !strings.Contains(v.Incomplete[0].Reason, "N=1073741824") {
					t.Fatalf("tampered key: %+v", v)
				}
				return
			}
			if v.Finding == nil || v.Finding.RuleID != RuleCosignKey || v.Finding.Line != 1 || v.Finding.Secret != base64.StdEncoding.EncodeToString(pemBody(tc.file)) {
				t.Fatalf("finding %+v", v.Finding)
			}
			if v.Opened != tc.opened || v.By != tc.by || v.Finding.Severity != tc.severity || len(v.Proves) != len(tc.proves) || len(tc.proves) > 0 && v.Proves[0] != tc.proves[0] {
				t.Errorf("opened %v by %q, severity %s, proves %v", v.Opened, v.By, v.Finding.Severity, v.Proves)
			}
		})
	}
	// A key in other text is the detector's, unverified.
	r := e.Scan(&File{Path: []string{"/ci/setup.sh"}, Data: []byte("cat > k <<EOF\n" + string(key) + "EOF\n")}, ScanOptions{})
	if len(r.Findings) != 1 || r.Findings[0].RuleID != RuleCosignKey || !strings.Contains(r.Findings[0].Key, "SIGSTORE") {
		t.Errorf("key in a script: %+v", r.Findings)
	}
}

func pemBody(b []byte) []byte {
	p, _ := pem.Decode(b)
	return p.Bytes
}
