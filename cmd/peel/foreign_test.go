package main

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/peelscan/peel/internal/fixture"
)

// TestForeignLayersAreNotFetched: a layer whose manifest entry names URLs
// outside the registry is read from the registry only; when the registry
// does not serve it, the scan stops with a line saying so, naming the
// URLs' hosts (never their paths or tokens), and nothing is requested from
// them. --allow-foreign-layers hands them to go-containerregistry.
func TestForeignLayersAreNotFetched(t *testing.T) {
	var foreignHits atomic.Int32
	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { foreignHits.Add(1) }))
	defer foreign.Close()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	push := func(tag string, mt types.MediaType) string {
		t.Helper()
		base, err := fixture.Image{Layers: []fixture.Layer{{Tar: fixture.Tar(fixture.File{Name: "etc/os-release", Data: []byte("ID=test\n")})}}}.Build()
		if err != nil {
			t.Fatal(err)
		}
		// Each image's layer its own content: the registry keeps blobs by digest.
		data := fixture.Tar(fixture.File{Name: "app/.env", Data: []byte("DB_PASSWORD=foreign-layer-pw-9a8b\n# " + tag + "\n")})
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(data))), nil }, tarball.WithMediaType(mt))
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.Append(base, mutate.Addendum{Layer: layer, MediaType: mt, URLs: []string{foreign.URL + "/layers/app.tar.gz?token=foreign-url-token"}})
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := name.ParseReference(host + "/foreign/app:" + tag)
		if err := remote.Write(ref, img); err != nil { // a foreign layer is not uploaded
			t.Fatal(err)
		}
		return ref.String()
	}
	missing := push("foreign", types.DockerForeignLayer)
	served := push("served", types.DockerLayer)

	r := peel(t, "scan", "--no-cache", missing)
	want := "a foreign layer: the registry does not serve sha256:"
	if r.code != 2 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) ||
		!strings.Contains(r.stderr, "its manifest points at "+foreign.URL+", which is not fetched (--allow-foreign-layers fetches it)") {
		t.Errorf("foreign layer: exit %d %q", r.code, r.stderr)
	}
	t.Logf("default: %s", r.stderr)
	if strings.Contains(r.stderr, "token") {
		t.Error("the URL's query reached the message")
	}
	r = peel(t, "scan", "--no-cache", "--allow-foreign-layers", missing)
	if r.code != 2 || strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "foreign layer URL") {
		t.Errorf("--allow-foreign-layers: exit %d %q; want go-containerregistry's own refusal of a loopback URL", r.code, r.stderr)
	}
	t.Logf("--allow-foreign-layers: %s", r.stderr)
	// A layer with URLs that the registry does serve is scanned from it.
	r = peel(t, "scan", "--no-cache", "-f", "json", served)
	if r.code != 1 || len(decode(t, r).Images[0].Findings) != 1 {
		t.Errorf("served layer with URLs: exit %d %s", r.code, r.stderr)
	}
	t.Run("failure table", func(t *testing.T) { // returns once its parallel row has run
		checkFailures(t, map[string]failureCase{
			"a layer the registry does not serve, whose manifest names other URLs (a foreign layer)": {missing, func(t *testing.T) run { return peel(t, "scan", "--no-cache", missing) }, atOnce},
		}, "foreign-url-token")
	})
	if n := foreignHits.Load(); n != 0 {
		t.Errorf("%d request(s) reached the foreign host", n)
	}
}
