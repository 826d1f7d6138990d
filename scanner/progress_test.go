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

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
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
// read (as stored, for an OCI layout: each layer's finished count is its
// planned size); a cached layer is said to be cached; a dir: scan counts
// its files as it goes; the logger hears of cache hits and misses.
func TestDetailedProgress(t *testing.T) {
	img := mustImage(t, fixture.STSv1)
	dir := filepath.Join(t.TempDir(), "oci")
	if _, err := layout.Write(dir, mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img})); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	cache := t.TempDir()
	for round := 0; round < 2; round++ {
		rec := &recorder{finished: map[int]int64{}}
		tgt, err := scanner.Open(context.Background(), "oci:"+dir, scanner.SourceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = scanner.New(scanner.Options{Progress: rec, CacheDir: cache, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}).Scan(context.Background(), tgt)
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

	// A docker-archive's layers are read uncompressed: not known up front.
	rec := &recorder{finished: map[int]int64{}}
	scanner.New(scanner.Options{Progress: rec}).ScanImage(context.Background(), img)
	if len(rec.plans) != 1 || rec.plans[0][0] != -1 {
		t.Errorf("uncompressed plan %v", rec.plans)
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
