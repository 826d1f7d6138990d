package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/report"
	"github.com/peelscan/peel/scanner"
)

func oneLayer(t *testing.T, tarBytes []byte) v1.Image {
	t.Helper()
	img, err := fixture.Image{Layers: []fixture.Layer{{Tar: tarBytes, CreatedBy: "COPY app /app"}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// forged is img with its config claiming diffID for its one layer.
func forged(t *testing.T, img v1.Image, diffID v1.Hash) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs = []v1.Hash{diffID}
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func files(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		// Entries are dir/xx/NAME; the files at the top (the layout's
		// version, CACHEDIR.TAG) hold no result.
		if err == nil && !d.IsDir() && filepath.Dir(p) != dir {
			n++
		}
		return nil
	})
	return n
}

// TestForgedLayerRefused, for every transport: an image whose layer does
// not match the config's diff_id (the genuine layer's, over a benign
// layer whose blob digest is right) is refused with exit status 2 and one
// line naming the layer, and nothing is cached; the genuine image, scanned
// next with the same cache, is read and its secret reported.
func TestForgedLayerRefused(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	genuineTar := fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("db.password=genuine-base-pw\n")})
	benignTar := fixture.Tar(fixture.File{Name: "app/readme.txt", Data: []byte("nothing here\n")})
	sum := sha256.Sum256(genuineTar)
	genuine, forgery := oneLayer(t, genuineTar), forged(t, oneLayer(t, benignTar), v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)})
	tag, _ := name.NewTag("example/app:1")

	for _, tc := range []struct {
		transport string
		write     func(t *testing.T, dir, which string, img v1.Image) string
	}{
		{"docker-archive, gzip layers", func(t *testing.T, dir, which string, img v1.Image) string {
			p := filepath.Join(dir, which+".tar")
			if err := tarball.WriteToFile(p, tag, img); err != nil {
				t.Fatal(err)
			}
			return "docker-archive:" + p
		}},
		{"docker-archive, uncompressed layers", func(t *testing.T, dir, which string, img v1.Image) string {
			p := filepath.Join(dir, which+".tar")
			if err := fixture.WriteDockerSave(p, img, "example/app:1"); err != nil {
				t.Fatal(err)
			}
			return p
		}},
		{"oci", func(t *testing.T, dir, which string, img v1.Image) string {
			p := filepath.Join(dir, which+"-oci")
			if err := fixture.WriteOCILayout(p, img); err != nil {
				t.Fatal(err)
			}
			return "oci:" + p
		}},
		{"oci-archive", func(t *testing.T, dir, which string, img v1.Image) string {
			p := filepath.Join(dir, which+"-oci.tar")
			if err := fixture.WriteOCIArchive(p, img); err != nil {
				t.Fatal(err)
			}
			return "oci-archive:" + p
		}},
		{"registry", func(t *testing.T, dir, which string, img v1.Image) string {
			ref := host + "/" + which + "/app:1"
			r, err := name.ParseReference(ref)
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(r, img); err != nil {
				t.Fatal(err)
			}
			return ref
		}},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			dir := t.TempDir()
			cache := filepath.Join(dir, "cache")
			bad := tc.write(t, dir, "forged", forgery)
			r := peel(t, "scan", "-f", "json", "--cache-dir", cache, bad)
			if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
				!strings.Contains(r.stderr, "layer 1: content does not match") || !strings.Contains(r.stderr, "diff_id") {
				t.Errorf("forged image: exit %d, stdout %q, stderr %q; want exit 2 and one line naming layer 1", r.code, r.stdout, r.stderr)
			}
			if n := files(cache); n != 0 {
				t.Errorf("the forged image left %d files in the cache", n)
			}
			good := tc.write(t, dir, "genuine", genuine)
			r = peel(t, "scan", "-f", "json", "--show-secrets", "--cache-dir", cache, good)
			if r.code != 1 {
				t.Fatalf("genuine image: exit %d\n%s", r.code, r.stderr)
			}
			img := decode(t, r).Images[0]
			if len(img.Findings) != 1 || img.Findings[0].Secret != "genuine-base-pw" || img.Stats.CachedLayers != 0 {
				t.Errorf("genuine image after the forged one: cached %d, findings %+v", img.Stats.CachedLayers, img.Findings)
			}
		})
	}
}

// TestMalformedManifestsRefused: as docker load does, a manifest listing
// more layers than the config has diff_ids (the extra one holding the
// secret), and one listing a blob twice for two different diff_ids, are
// refused.
func TestMalformedManifestsRefused(t *testing.T) {
	dir := t.TempDir()
	a := fixture.Tar(fixture.File{Name: "a.txt", Data: []byte("a\n")})
	b := fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("db.password=second-layer-pw\n")})
	img, err := fixture.Image{Layers: []fixture.Layer{{Tar: a}, {Tar: b}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	diffIDs := func(img v1.Image) []v1.Hash {
		cf, _ := img.ConfigFile()
		return cf.RootFS.DiffIDs
	}
	ids := diffIDs(img)
	edit := func(ids []v1.Hash) v1.Image {
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.RootFS.DiffIDs = ids
		out, err := mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	short := filepath.Join(dir, "short-oci.tar")
	if err := fixture.WriteOCIArchive(short, edit(ids[:1])); err != nil {
		t.Fatal(err)
	}
	shortSave := filepath.Join(dir, "short-save.tar")
	if err := fixture.WriteDockerSave(shortSave, edit(ids[:1]), ""); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"oci-archive:" + short, shortSave} {
		r := peel(t, "scan", "--no-cache", in)
		if r.code != 2 || !strings.Contains(r.stderr, "malformed image, refused") || !strings.Contains(r.stderr, "lists 2 layers and the config 1 diff_ids") {
			t.Errorf("%s: exit %d, stderr %q", in, r.code, r.stderr)
		}
	}
}

// TestLibraryAndCLIAgree: the same image through scanner.ScanImage (an
// in-memory image, as a library caller holds one) and through the CLI on
// its OCI archive gives the same findings and the same limits' reports.
func TestLibraryAndCLIAgree(t *testing.T) {
	jar := fixture.Zip(nil, fixture.File{Name: "BOOT-INF/classes/application.properties", Data: []byte("spring.datasource.password=agree-jar-pw\n")})
	img, err := fixture.Image{Layers: []fixture.Layer{
		{Tar: fixture.Tar(fixture.File{Name: "app/app.jar", Data: jar}, fixture.File{Name: "etc/big.txt", Data: []byte(strings.Repeat("x", 300) + "\n")})},
		{Tar: fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("db.password=agree-layer-pw\n")}, fixture.File{Name: "zz/zeros.img", Data: make([]byte, 40<<20)})},
	}, Env: []string{"API_TOKEN=agree-env-token-value"}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "agree.tar")
	if err := fixture.WriteOCIArchive(p, img); err != nil {
		t.Fatal(err)
	}
	r := peel(t, "scan", "-f", "json", "--show-secrets", "--no-cache", "--max-file-size", "200", "oci-archive:"+p)
	if r.code != 1 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	cli := decode(t, r).Images[0]
	res, err := scanner.New(scanner.Options{ResultOptions: scanner.ResultOptions{MaxFileSize: 200}}).ScanImage(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	lib := report.Build([]*scanner.Result{res}, report.Options{ShowSecrets: true}).Images[0]
	brief := func(img report.Image) (fs, inc []string) {
		for _, f := range img.Findings {
			fs = append(fs, f.Rule+" "+f.Location+" "+f.Secret)
		}
		for _, i := range img.Incomplete {
			inc = append(inc, i.Location+": "+i.Reason)
		}
		sort.Strings(fs)
		sort.Strings(inc)
		return fs, inc
	}
	cf, ci := brief(cli)
	lf, li := brief(lib)
	if !reflect.DeepEqual(cf, lf) || !reflect.DeepEqual(ci, li) {
		t.Errorf("CLI and library differ:\n CLI findings %q\n lib findings %q\n CLI incomplete %q\n lib incomplete %q", cf, lf, ci, li)
	}
	if len(cf) != 3 || len(ci) != 2 || !strings.Contains(strings.Join(ci, "|"), "--max-ratio") || !strings.Contains(strings.Join(ci, "|"), "only the first 200 bytes") {
		t.Errorf("want 3 findings and the ratio and file-size cuts: %q %q", cf, ci)
	}
}
