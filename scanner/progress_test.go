package scanner_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
	"github.com/peelscan/peel/scanner/cache"
)

type recorder struct {
	mu       sync.Mutex
	plans    [][]int64
	cached   []int
	files    []int
	finished map[int]int64
}

func (r *recorder) Layer(layer, layers int, done, total int64, finished bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if finished {
		r.finished[layer] = done
	}
}
func (r *recorder) Plan(sizes []int64) { r.plans = append(r.plans, sizes) }
func (r *recorder) Cached(layer, layers int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cached = append(r.cached, layer)
}
func (r *recorder) Files(files int, bytes int64) { r.files = append(r.files, files) }

var _ scanner.DetailedProgress = (*recorder)(nil)

// TestDetailedProgress: the sizes of an image's layers come before any is
// read (as stored, for an OCI layout and a docker-archive: each layer's
// finished count is its planned size); a cached layer is said to be cached; a dir: scan counts
// its files as it goes; the logger hears of cache hits and misses.
func TestDetailedProgress(t *testing.T) {
	img := mustImage(t, fixture.STSv1)
	dir := filepath.Join(t.TempDir(), "oci")
	if _, err := layout.Write(dir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cacheDir := t.TempDir()
	for round := 0; round < 2; round++ {
		rec := &recorder{finished: map[int]int64{}}
		tgt, err := scanner.Open(context.Background(), "oci:"+dir, scanner.SourceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = scanner.New(scanner.Options{Progress: rec, Cache: cache.New(cacheDir), Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}).Scan(context.Background(), tgt)
		tgt.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.plans) != 1 || len(rec.plans[0]) != 5 {
			t.Fatalf("round %d: plans %v", round, rec.plans)
		}
		if round == 0 {
			for i, size := range rec.plans[0] {
				if size <= 0 || rec.finished[i+1] != size {
					t.Errorf("layer %d: planned %d, read %d", i+1, size, rec.finished[i+1])
				}
			}
		} else if len(rec.cached) != 5 || len(rec.finished) != 0 {
			t.Errorf("warm: cached %v, read %v", rec.cached, rec.finished)
		}
	}
	if strings.Count(logs.String(), "layer cache miss") != 5 || strings.Count(logs.String(), "layer cache hit") != 5 {
		t.Errorf("logs:\n%s", logs.String())
	}

	// A docker-archive's layers have the sizes of their entries in it,
	// which is what reading them counts.
	archive := filepath.Join(t.TempDir(), "v1.tar")
	tag, _ := name.NewTag("peel/v1:1")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	tgt, err := scanner.Open(context.Background(), archive, scanner.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{finished: map[int]int64{}}
	if _, err := scanner.New(scanner.Options{Progress: rec}).Scan(context.Background(), tgt); err != nil {
		t.Fatal(err)
	}
	tgt.Close()
	if len(rec.plans) != 1 || len(rec.plans[0]) != 5 {
		t.Fatalf("docker-archive plans %v", rec.plans)
	}
	for i, size := range rec.plans[0] {
		if size <= 0 || rec.finished[i+1] != size {
			t.Errorf("docker-archive layer %d: planned %d, read %d", i+1, size, rec.finished[i+1])
		}
	}

	files := t.TempDir()
	for i := range 3 {
		os.WriteFile(filepath.Join(files, string(rune('a'+i))+".txt"), []byte("x"), 0o644)
	}
	rec = &recorder{}
	if _, err := scanner.New(scanner.Options{Progress: rec}).ScanPath(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	if len(rec.files) != 3 || rec.files[2] != 3 {
		t.Errorf("dir progress %v", rec.files)
	}
}
