package scanner_test

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/peelscan/peel/internal/fixture"
)

// hugeConfigImage is a one-layer image whose config holds a label of n
// bytes.
func hugeConfigImage(t *testing.T, n int) v1.Image {
	t.Helper()
	img := layers(t, fixture.Tar(fixture.File{Name: "etc/os-release", Data: []byte("ID=x\n")}))
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Labels = map[string]string{"padding": strings.Repeat("x", n)}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestConfigSizeLimit: an image config over 16 MiB is refused before it is
// read whole, from a registry (by the size its manifest declares) and from
// an OCI layout (whose blobs go-containerregistry reads whole whatever the
// manifest says, here one that lies); one under the limit is read.
func TestConfigSizeLimit(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	big, small := hugeConfigImage(t, 17<<20), hugeConfigImage(t, 1<<20)
	for name, img := range map[string]v1.Image{"big": big, "small": small} {
		if err := remote.Write(mustRef(t, host+"/cfg/"+name+":1"), img); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(big); err != nil {
		t.Fatal(err)
	}
	lying := filepath.Join(t.TempDir(), "lying")
	lp, _ := layout.Write(lying, empty.Index)
	if err := lp.AppendImage(small); err != nil {
		t.Fatal(err)
	}
	// The lying layout's manifest declares the small config; its blob file
	// is made 17 MiB, under the same name.
	cn, _ := small.ConfigName()
	if err := os.WriteFile(filepath.Join(lying, "blobs", "sha256", cn.Hex), make([]byte, 17<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for input, want := range map[string]string{
		host + "/cfg/big:1": "image config of 178", "oci:" + dir: "image config of 178", "oci:" + lying: "image config of 178",
	} {
		if _, err := scanInput(t, input, nil); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "over the limit of 16777216 bytes") {
			t.Errorf("%s: err = %v, want %q … over the limit", input, err, want)
		}
	}
	if _, err := scanInput(t, host+"/cfg/small:1", nil); err != nil {
		t.Errorf("a 1 MiB config: %v", err)
	}
}
