package scanner_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/peelscan/peel/scanner"
)

// TestReferences: an input that is no path is judged as a reference
// before any registry is asked, and each mistake is told as such.
func TestReferences(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	os.Mkdir("testdata", 0o755)
	for _, tc := range []struct{ input, msg string }{
		{"Prabath/Insecure-STS:V1", "invalid image reference: an image name must be lowercase (prabath/insecure-sts:V1)"},
		{"localhost:5000/App", "invalid image reference: an image name must be lowercase (localhost:5000/app)"},
		{"http://127.0.0.1:5000/app:1", "invalid image reference: a reference has no URL scheme (127.0.0.1:5000/app:1)"},
		{"foo bar", "no such file or image (not a local path, nor a valid image reference)"},
		{"testdata/buld", "no such file or directory (testdata is a local directory; for the Docker Hub image, write docker.io/testdata/buld)"},
	} {
		_, err := scanner.OpenAll(context.Background(), tc.input, scanner.SourceOptions{})
		if err == nil || err.Error() != tc.input+": "+tc.msg {
			t.Errorf("OpenAll(%q) = %v, want %q", tc.input, err, tc.msg)
		}
		_, err = scanner.Open(context.Background(), tc.input, scanner.SourceOptions{})
		if err == nil || err.Error() != tc.input+": "+tc.msg {
			t.Errorf("Open(%q) = %v, want %q", tc.input, err, tc.msg)
		}
	}
	var re *scanner.ReferenceError
	if _, err := scanner.Open(context.Background(), "http://127.0.0.1:5000/app:1", scanner.SourceOptions{}); !errors.As(err, &re) || re.Scheme != "http" || re.Host != "127.0.0.1:5000" {
		t.Errorf("scheme error %#v", re)
	}
	for input, want := range map[string]bool{
		"alpine": true, "alpine:3.19": true, "prabath/insecure-sts-ch10:v1": true, "testdata/buld": true,
		"docker.io/library/alpine": false, "localhost:5000/app": false, "registry.example.com/app:1": false,
		"docker://alpine": false, "./alpine": false, "missing.tar": false, "testdata": false,
	} {
		if got := scanner.DockerHubImplied(input); got != want {
			t.Errorf("DockerHubImplied(%q) = %v", input, got)
		}
	}
}

// TestAllPlatformsKeepsTheName: --all-platforms names every target, a
// plain manifest's and an unlabelled single image's too, and takes an
// index of one image that has no platform.
func TestAllPlatformsKeepsTheName(t *testing.T) {
	img := archImage(t, "amd64")
	ociDir := filepath.Join(t.TempDir(), "oci")
	if _, err := layout.Write(ociDir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/plain/app:1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	for _, input := range []string{ociDir, "oci:" + ociDir, ref.String()} {
		ts, err := scanner.OpenAll(context.Background(), input, scanner.SourceOptions{AllPlatforms: true})
		if err != nil {
			t.Errorf("%s: %v", input, err)
			continue
		}
		if len(ts) != 1 || ts[0].Input != input {
			t.Errorf("%s: %d targets, named %q", input, len(ts), ts[0].Input)
		}
		res, err := scanner.New(scanner.Options{}).Scan(context.Background(), ts[0])
		if err != nil || res.Input != input || len(res.Findings) != 1 {
			t.Errorf("%s: scanned as %q, %d findings, %v", input, res.Input, len(res.Findings), err)
		}
	}
}
