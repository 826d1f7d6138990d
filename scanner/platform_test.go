package scanner_test

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

// archImage is an image whose config file carries a password unique to
// its architecture.
func archImage(t *testing.T, arch string) v1.Image {
	img := layers(t, fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("db.password=" + arch + "-only-pw\n")}))
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func secrets(t *testing.T, input string, platform *v1.Platform) string {
	t.Helper()
	tgt, err := scanner.Open(context.Background(), input, scanner.SourceOptions{Platform: platform})
	if err != nil {
		t.Fatalf("Open(%s): %v", input, err)
	}
	defer tgt.Close()
	res, err := scanner.New(scanner.Options{}).Scan(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Secret)
	}
	return strings.Join(out, ",") + "@" + res.Platform
}

func TestMultiPlatformIndex(t *testing.T) {
	amd, arm := archImage(t, "amd64"), archImage(t, "arm64")
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref, err := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/multi/app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	ociDir := filepath.Join(t.TempDir(), "oci")
	if _, err := layout.Write(ociDir, idx); err != nil {
		t.Fatal(err)
	}
	for _, input := range []string{ref.String(), "oci:" + ociDir} {
		if got := secrets(t, input, nil); got != "amd64-only-pw@linux/amd64" {
			t.Errorf("%s default platform: %s", input, got)
		}
		if got := secrets(t, input, &v1.Platform{OS: "linux", Architecture: "arm64"}); got != "arm64-only-pw@linux/arm64" {
			t.Errorf("%s --platform linux/arm64: %s", input, got)
		}
	}
	_, err = scanner.Open(context.Background(), "oci:"+ociDir, scanner.SourceOptions{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	if err == nil || !strings.Contains(err.Error(), "none is for linux/s390x") {
		t.Errorf("missing platform: %v", err)
	}
}

func TestMultiImageDockerArchive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "two.tar")
	a, _ := name.NewTag("example/app:amd")
	b, _ := name.NewTag("example/app:arm")
	if err := tarball.MultiWriteToFile(p, map[name.Tag]v1.Image{a: archImage(t, "amd64"), b: archImage(t, "arm64")}); err != nil {
		t.Fatal(err)
	}
	if got := secrets(t, "docker-archive:"+p+":example/app:arm", nil); got != "arm64-only-pw@linux/arm64" {
		t.Errorf("docker-archive:PATH:REF: %s", got)
	}
	if _, err := scanner.Open(context.Background(), "docker-archive:"+p, scanner.SourceOptions{}); err == nil {
		t.Error("an archive of two images without a REF opened")
	}
}
