package rules

import (
	"strings"
	"testing"
)

// BenchmarkSigningKeysDetect is the signing key detector alone on the text
// of BenchmarkScanFileText, which runs on every text file: its prefilters
// (two PEM types and _PASS) are to cost little beside the engine.
func BenchmarkSigningKeysDetect(b *testing.B) {
	data := []byte(strings.Repeat("function load(config) { const key = config.value; return user.token.list(index) }\n", 2000) +
		"spring.datasource.password=s3cr3t-bench\n")
	f := &File{Path: []string{"/app/src/Main.java"}, Data: data}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		var c Collector
		signingKeys{}.Detect(f, &c)
	}
}
