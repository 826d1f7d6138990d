package rules

import (
	"strings"
	"testing"

	"github.com/peelscan/peel/internal/testkeys"
)

// The engine's benchmarks: every detector over a source file and over a
// properties file, as the walker runs them.

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

// BenchmarkScanFilePropertiesEscapes: a properties file whose every line
// has backslashes (Windows paths, escapes in values), each of which the
// detector must look at, since a backslash in a key may spell a hint.
func BenchmarkScanFilePropertiesEscapes(b *testing.B) {
	e, _ := DefaultEngine()
	data := []byte(strings.Repeat("app.dir=C:\\\\Program Files\\\\App\\\\data\nmsg.welcome=Willkommen, \\u00fcber uns\n", 1000) + "db.p\\u0061ssword=s3cr3t-bench\n")
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

// BenchmarkNewEngine is what every peel pays at start to build the
// engine: the catalogue (its examples included) and gitleaks' rules.
func BenchmarkNewEngine(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := NewEngine(EngineOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
