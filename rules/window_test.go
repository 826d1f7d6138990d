package rules

import (
	"crypto/x509"
	"encoding/pem"
	"sort"
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/testkeys"
)

// TestGitleaksWindowsMatchWholeFile checks that running gitleaks on the
// windows around keyword hits finds what running it on the whole file
// finds, on the same lines, amid text full of keywords that start nothing.
func TestGitleaksWindowsMatchWholeFile(t *testing.T) {
	e := engine(t)
	key, _ := x509.MarshalPKCS8PrivateKey(testkeys.NewKey("win", "win").Private)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	noise := strings.Repeat("the key of this map is the user name; pass the token list to the client.\n", 100) +
		strings.Repeat("values.sort(key=len)  # access the api, auth later\n", 100)
	for name, content := range map[string]string{
		"provider token": "export AWS_ACCESS_KEY_ID=" + fakeAWSKeyID + "\n",
		"github pat":     "token: " + fakeGitHubPAT + "\n",
		"generic":        `client_secret = "Q3v9X2kP7mL4tR8wZ6nB1cY5"` + "\n",
		"private key":    pemKey,
		"two on a line":  "A=" + fakeAWSKeyID + " B=" + fakeGitHubPAT + "\n",
	} {
		t.Run(name, func(t *testing.T) {
			whole := e.ScanFile("/app/f.conf", []byte(content))
			if len(whole.Findings) == 0 {
				t.Fatalf("nothing found in the small file")
			}
			big := e.ScanFile("/app/f.conf", []byte(noise+content+noise))
			if len(big.Findings) != len(whole.Findings) {
				t.Fatalf("windows found %+v, whole file %+v", big.Findings, whole.Findings)
			}
			byRule := func(fs []Finding) {
				sort.Slice(fs, func(i, j int) bool {
					return fs[i].Line < fs[j].Line || fs[i].Line == fs[j].Line && fs[i].RuleID < fs[j].RuleID
				})
			}
			byRule(big.Findings)
			byRule(whole.Findings)
			for i, f := range big.Findings {
				w := whole.Findings[i]
				if f.RuleID != w.RuleID || f.Secret != w.Secret || f.Line != w.Line+200 {
					t.Errorf("window finding %+v, whole-file finding %+v (+200 lines)", f, w)
				}
			}
		})
	}
}

func BenchmarkScanFileText(b *testing.B) {
	e, _ := DefaultEngine()
	data := []byte(strings.Repeat("function load(config) { const key = config.value; return user.token.list(index) }\n", 2000) +
		"spring.datasource.password=s3cr3t-bench\n")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.ScanFile("/app/src/Main.java", data)
	}
}

func BenchmarkScanFileProperties(b *testing.B) {
	e, _ := DefaultEngine()
	data := []byte(strings.Repeat("logging.level.org.springframework=INFO\nserver.port=8080\n", 1000) + "spring.datasource.password=s3cr3t-bench\n")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.ScanFile("/app/application.properties", data)
	}
}

func BenchmarkIsTextBinary(b *testing.B) {
	data := testkeys.NewKey("bench", "bench").Cert.Raw
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		IsText(data)
	}
}
