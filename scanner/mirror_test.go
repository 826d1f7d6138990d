package scanner_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

// hubStandIn sends every request for a host other than 127.0.0.1 (Docker
// Hub's) to a local registry, so that fallback to Docker Hub is tested
// without leaving the machine.
type hubStandIn struct{ hub *url.URL }

func (h hubStandIn) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(req.URL.Host, "127.0.0.1") {
		req = req.Clone(req.Context())
		req.URL.Scheme, req.URL.Host = h.hub.Scheme, h.hub.Host
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestRegistryMirror(t *testing.T) {
	quiet := registry.Logger(log.New(io.Discard, "", 0))
	mirror := httptest.NewServer(registry.New(quiet))
	defer mirror.Close()
	hub := httptest.NewServer(registry.New(quiet))
	defer hub.Close()
	hubURL, _ := url.Parse(hub.URL)
	mirrorHost := strings.TrimPrefix(mirror.URL, "http://")

	v1img := mustImage(t, fixture.STSv1)
	v2img := mustImage(t, fixture.STSv2)
	// The mirror has v1; "Docker Hub" has v2 only.
	if err := remote.Write(mustRef(t, mirrorHost+"/"+fixture.ImageRepo+":v1"), v1img); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(mustRef(t, strings.TrimPrefix(hub.URL, "http://")+"/"+fixture.ImageRepo+":v2"), v2img); err != nil {
		t.Fatal(err)
	}
	opts := scanner.SourceOptions{Mirrors: []string{mirrorHost}, Transport: hubStandIn{hubURL}}

	tgt, err := scanner.Open(context.Background(), fixture.ImageRepo+":v1", opts)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tgt.Ref, mirrorHost+"/") {
		t.Errorf("v1 pulled from %s, want the mirror", tgt.Ref)
	}
	tgt, err = scanner.Open(context.Background(), fixture.ImageRepo+":v2", opts)
	if err != nil {
		t.Fatalf("fallback to Docker Hub: %v", err)
	}
	if !strings.HasPrefix(tgt.Ref, name.DefaultRegistry+"/") {
		t.Errorf("v2 pulled from %s, want Docker Hub after the mirror", tgt.Ref)
	}
	// A name on another registry never goes to the mirror.
	other := strings.TrimPrefix(hub.URL, "http://") + "/" + fixture.ImageRepo + ":v2"
	if tgt, err = scanner.Open(context.Background(), other, opts); err != nil || tgt.Ref != mustRef(t, other).Name() {
		t.Errorf("non-Hub name: %v %v", tgt, err)
	}
	// Neither has it: both failures are named.
	_, err = scanner.Open(context.Background(), fixture.ImageRepo+":v9", opts)
	if err == nil || !strings.Contains(err.Error(), "mirror "+mirrorHost) || !strings.Contains(err.Error(), "then index.docker.io") {
		t.Errorf("missing everywhere: %v", err)
	}
}
