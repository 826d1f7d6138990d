package scanner_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
	"github.com/peelscan/peel/scanner/cache"
)

// TestCacheRenumbersLayers: a layer cached from one image and found at
// another position in a second image reports its findings at the new
// position, and a corrupt cache entry is a miss.
func TestCacheRenumbersLayers(t *testing.T) {
	dir := t.TempDir()
	shared := fixture.Tar(fixture.File{Name: "app/application.properties", Data: []byte("a.password=shared-layer-pw\n")})
	other := fixture.Tar(fixture.File{Name: "etc/os-release", Data: []byte("ID=x\n")})
	opts := scanner.Options{Cache: mustCache(t, dir)}
	first := scanImage(t, layers(t, shared, other), opts)
	second := scanImage(t, layers(t, other, shared), opts)
	if first.Stats.CachedLayers != 0 || second.Stats.CachedLayers != 2 {
		t.Fatalf("cached layers %d then %d", first.Stats.CachedLayers, second.Stats.CachedLayers)
	}
	if len(second.Findings) != 1 || second.Findings[0].Layer != 2 {
		t.Errorf("the shared layer's finding is at layer %+v, want 2", summarize(second.Findings))
	}
	// Corrupt every entry: the next scan reads the layers again.
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.WriteFile(p, []byte("{not json"), 0o600)
		}
		return nil
	})
	third := scanImage(t, layers(t, other, shared), opts)
	if third.Stats.CachedLayers != 0 || len(third.Findings) != 1 {
		t.Errorf("after corruption: %d cached layers, findings %+v", third.Stats.CachedLayers, summarize(third.Findings))
	}
}

// mustCache opens a sealed directory cache in dir, as the command line
// does.
func mustCache(t *testing.T, dir string) scanner.LayerCache {
	t.Helper()
	d, err := cache.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := cache.NewKey([]byte("scanner-test-cache-key-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	return cache.Seal(d, k)
}
