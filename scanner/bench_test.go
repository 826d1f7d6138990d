package scanner_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

// benchLayerImage is an image of one layer: a fat jar of many classes and
// nested jars, binaries and text, about 8 MiB.
func benchLayerImage(b *testing.B) (size int64, scan func() error) {
	var files []fixture.File
	var classes []fixture.File
	for i := 0; i < 2000; i++ {
		classes = append(classes, fixture.Class(fmt.Sprintf("com/example/p%d/C%d", i%40, i)))
	}
	inner := fixture.Zip(nil, classes[:300]...)
	jar := fixture.Zip(nil, append(classes, fixture.File{Name: "BOOT-INF/lib/inner.jar", Data: inner, Stored: true},
		fixture.File{Name: "BOOT-INF/classes/application.properties", Data: []byte("a.password=bench-pw-1\n")})...)
	files = append(files, fixture.File{Name: "app/app.jar", Data: jar})
	for i := 0; i < 20; i++ {
		files = append(files, fixture.File{Name: fmt.Sprintf("usr/lib/lib%d.so", i), Data: fixture.Binary("elf", fmt.Sprint(i), 128<<10)})
		files = append(files, fixture.File{Name: fmt.Sprintf("srv/doc%d.md", i), Data: bytes.Repeat([]byte("the service reads its config value from the map by name\n"), 1500)})
	}
	tarball := fixture.Tar(files...)
	img, err := fixture.Image{Layers: []fixture.Layer{{Tar: tarball}}}.Build()
	if err != nil {
		b.Fatal(err)
	}
	sc := scanner.New(scanner.Options{})
	return int64(len(tarball)), func() error {
		res, err := sc.ScanImage(context.Background(), img)
		if err == nil && len(res.Findings) != 1 {
			return fmt.Errorf("%d findings", len(res.Findings))
		}
		return err
	}
}

// BenchmarkScanLayer measures the layer and archive walk (tar, zip, nested
// jars, text detection) in MB/s of uncompressed layer.
func BenchmarkScanLayer(b *testing.B) {
	size, scan := benchLayerImage(b)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := scan(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanLayerSmallText measures a layer of many small text files
// (as /etc and /usr/share hold), each a candidate target of a link named
// like a config file, and so kept, within a bound, for links later in the
// layer.
func BenchmarkScanLayerSmallText(b *testing.B) {
	var files []fixture.File
	for i := 0; i < 2000; i++ {
		files = append(files, fixture.File{Name: fmt.Sprintf("etc/conf.d/service-%04d.conf", i), Data: bytes.Repeat([]byte("option value read at start-up by the service\n"), 90)})
	}
	files = append(files, fixture.File{Name: "etc/app.properties", Data: []byte("a.password=bench-pw-1\n")})
	tarball := fixture.Tar(files...)
	img, err := fixture.Image{Layers: []fixture.Layer{{Tar: tarball}}}.Build()
	if err != nil {
		b.Fatal(err)
	}
	sc := scanner.New(scanner.Options{})
	b.SetBytes(int64(len(tarball)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := sc.ScanImage(context.Background(), img)
		if err != nil || len(res.Findings) != 1 {
			b.Fatalf("%v, %d findings", err, len(res.Findings))
		}
	}
}
