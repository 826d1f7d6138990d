package keystore

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/peelscan/peel/internal/testkeys"
)

func FuzzInspectKeystore(f *testing.F) {
	f.Add(testkeys.JKS("pw-123456", "a", "b"))
	f.Add(testkeys.TrustStore("changeit", "ca"))
	f.Add(testkeys.PKCS12("pw-123456", "k"))
	for _, name := range []string{"sts-keytool.jks", "jwt-keytool.p12"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "keytool", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := Inspect(data)
		if err != nil || k == nil {
			return
		}
		k.Open(context.Background(), []Candidate{{Password: "pw-123456", Source: "fuzz"}}, NewWork(1_000_000))
		k.HoldsKeys()
	})
}
