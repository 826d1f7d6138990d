package scanner_test

import (
	"context"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/internal/testkeys"
	"github.com/peelscan/peel/scanner"
)

// FuzzLayer feeds arbitrary bytes to the layer walker as one layer's tar,
// and arbitrary bytes as a file inside a well-formed layer (the zip walker,
// the launch-script search, the keystore sniffer and the config rules).
func FuzzLayer(f *testing.F) {
	f.Add(fixture.Tar(fixture.File{Name: "app.jar", Data: fixture.FatJar(true)}), fixture.FatJar(true))
	f.Add([]byte{}, append([]byte("#!/bin/sh\n"), fixture.Zip(nil, fixture.File{Name: "a.properties", Data: []byte("x.password=y1234")})...))
	f.Add(fixture.Tar(fixture.File{Name: "opt/ks.jks", Data: testkeys.JKS("springboot", "a")}), testkeys.PKCS12("pw-123456", "k"))
	f.Fuzz(func(t *testing.T, layerTar, file []byte) {
		ctx := context.Background()
		sc := scanner.New(scanner.Options{ResultOptions: scanner.ResultOptions{MaxDepth: 4}, MemoryBuffer: 1 << 16, TempDir: t.TempDir()})
		for _, tarBytes := range [][]byte{layerTar, fixture.Tar(fixture.File{Name: "f/application.properties", Data: file})} {
			img, err := fixture.Image{Layers: []fixture.Layer{{Tar: tarBytes}}}.Build()
			if err != nil {
				t.Fatal(err)
			}
			_, _ = sc.ScanImage(ctx, img) // errors are fine; panics and hangs are not
		}
	})
}
