package rules

import "testing"

// BenchmarkScanFileSourceNoise scans 1 MiB of source-like text dense in
// gitleaks' keywords used harmlessly (sourceNoise: the padding of the
// differential tests), which opens many windows and reports nothing.
func BenchmarkScanFileSourceNoise(b *testing.B) {
	e, _ := DefaultEngine()
	data := []byte(sourceNoise(1<<20, 1))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		e.ScanFile("/srv/app/settings.conf", data)
	}
}
