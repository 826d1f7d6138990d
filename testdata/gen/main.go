// Command gen writes peel's bundled fixtures: the book's v1 and v2 STS
// images as docker-archive tars and OCI layouts, and the host config
// directories of sections 10.2.1 and 10.2.2. The output is the same byte
// for byte on every run. Usage: go run ./testdata/gen [-out testdata/build]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/peelscan/peel/internal/fixture"
)

func main() {
	out := flag.String("out", filepath.Join("testdata", "build"), "directory to write the fixtures to")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		os.Exit(1)
	}
}

func run(out string) error {
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	for _, im := range []struct {
		tag   string
		build func() (v1.Image, error)
	}{
		{"v1", fixture.STSv1},
		{"v2", fixture.STSv2},
	} {
		img, err := im.build()
		if err != nil {
			return fmt.Errorf("building %s: %w", im.tag, err)
		}
		if err := write(out, im.tag, img); err != nil {
			return err
		}
	}
	for _, section := range []string{"10.2.1", "10.2.2"} {
		dir := filepath.Join(out, "config-"+section)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for n, data := range fixture.HostConfig(section) {
			if err := os.WriteFile(filepath.Join(dir, n), data, 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Printf("fixtures written to %s\n", out)
	return nil
}

// write saves img as OUT/sts-TAG.tar (docker save format, tagged as the
// book's image) and OUT/sts-TAG-oci (an OCI layout, ref name TAG).
func write(out, tag string, img v1.Image) error {
	ref, err := name.NewTag("prabath/insecure-sts-ch10:" + tag)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := tarball.WriteToFile(filepath.Join(out, "sts-"+tag+".tar"), ref, img); err != nil {
		return fmt.Errorf("writing %s docker-archive: %w", tag, err)
	}
	p, err := layout.Write(filepath.Join(out, "sts-"+tag+"-oci"), empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag})); err != nil {
		return fmt.Errorf("writing %s OCI layout: %w", tag, err)
	}
	return nil
}
