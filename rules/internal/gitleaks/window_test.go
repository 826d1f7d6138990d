package gitleaks

import (
	"crypto/x509"
	"encoding/pem"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/zricethezav/gitleaks/v8/detect"

	"github.com/peelscan/peel/internal/testkeys"
)

// TestGitleaksWindowsMatchWholeFile checks that running gitleaks on the
// windows around keyword hits finds what running it on the whole file
// finds, on the same lines, amid text full of keywords that start nothing.
func TestGitleaksWindowsMatchWholeFile(t *testing.T) {
	e := engine(t)
	key, _ := x509.MarshalPKCS8PrivateKey(testkeys.NewKey("win", "win").Private)
	pemKey := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	noise := keywordNoise +
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

// TestGenericGateIsNecessary generates lines around generic-api-key's
// keywords (operators, quotes, blanks, '=' runs, secrets of every kind of
// character, stopwords, terminators or not) and checks that whenever
// gitleaks' rule reports a line, one of its keyword hits passes the gate:
// the gate may let through lines the rule then drops, never the reverse.
func TestGenericGateIsNecessary(t *testing.T) {
	e := engine(t)
	gi := -1
	for i, g := range e.groups {
		if g.generic {
			gi = i
		}
	}
	if gi < 0 {
		t.Fatal("no generic group")
	}
	g := e.groups[gi]
	r := rand.New(rand.NewSource(11))
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	secretChars := []string{"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", "_.-", "=+/"}
	fired, passed := 0, 0
	for n := 0; n < 40000; n++ {
		var b strings.Builder
		b.WriteString(pick("", "  ", "const ", "x.", "my_", "\"", "the "))
		b.WriteString(pick("key", "API", "Api", "aPI", "token", "secret", "password", "passwd", "auth", "access", "creds", "credential", "SECRET_KEY"))
		b.WriteString(pick("", "_id", "_name", " ", "  \t", "\"", "'", "-x", ".value", " value ", "_0123456789_abcdef"))
		b.WriteString(pick("=", ":", ": ", " = ", "=>", ":=", "::=", "||", "?=", ",", ">", "==", "= =", "|", "?", "", " (", "\n=", " \n:"))
		b.WriteString(pick("", "\"", "'", "`", " ", "=", "==", " \"", "\r", "\f", "\n", "\n  \""))
		// The secret: runs drawn from a few character classes, sometimes
		// with a stopword inside.
		classes := [][]string{secretChars, secretChars[:4], secretChars[:3], {secretChars[0], secretChars[1], secretChars[2], "+/"}}[r.Intn(4)]
		for k := 3 + r.Intn(40); k > 0; k-- {
			if r.Intn(25) == 0 {
				b.WriteString(pick("value", "index", "about", "aaaaaa", "example"))
				continue
			}
			cls := classes[r.Intn(len(classes))]
			b.WriteByte(cls[r.Intn(len(cls))])
		}
		b.WriteString(pick("", "", "=", "==", "===", "===="))
		b.WriteString(pick("", "\"", "'", "`", ";", " ", "\t", "\\n", "\\r", "(", ",", ")", ":", "!", "\r"))
		b.WriteString(pick("", " rest", "(x)", "=y"))
		line := b.String()
		data := []byte(line)
		pass := false
		e.keywords.scan(data, func(start, ki int) {
			if e.inGroup[ki][gi] && g.genericGate(data, start+len(e.keywords.keywords[ki])) >= 0 {
				pass = true
			}
		})
		if pass {
			passed++
		}
		//lint:ignore SA1019 gitleaks v8's Detect takes detect.Fragment.
		if fs := g.det.Detect(detect.Fragment{Raw: line}); len(fs) > 0 {
			fired++
			if !pass {
				t.Errorf("gitleaks reports %q in %q, which the gate stops", fs[0].Secret, line)
			}
		}
	}
	t.Logf("%d lines reported by the rule, %d passed the gate", fired, passed)
	if fired < 1000 {
		t.Errorf("only %d lines reported by the rule: the generator does not exercise it", fired)
	}
}

// TestEntropy compares the table-driven entropy with the textbook sum.
func TestEntropy(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for n := 1; n < 1500; n += 1 + n/7 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Intn(1 + r.Intn(256)))
		}
		counts := map[byte]int{}
		for _, c := range b {
			counts[c]++
		}
		want := 0.0
		for _, k := range counts {
			p := float64(k) / float64(n)
			want -= p * math.Log2(p)
		}
		if got := entropy(b); math.Abs(got-want) > 1e-9 {
			t.Errorf("%d bytes: entropy %v, want %v", n, got, want)
		}
	}
}
