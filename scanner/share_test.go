package scanner_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/peelscan/peel/internal/fixture"
	"github.com/peelscan/peel/scanner"
)

// memCache is a LayerCache in memory.
type memCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemCache() *memCache { return &memCache{m: map[string][]byte{}} }

func (c *memCache) Get(_ context.Context, k string) ([]byte, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.m[k]
	return b, ok, nil
}

func (c *memCache) Put(_ context.Context, k string, v []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[k] = append([]byte(nil), v...)
	return nil
}

func fleetImages(t *testing.T) ([]fixture.FleetImage, int, int) {
	t.Helper()
	images, err := fixture.Fleet()
	if err != nil {
		t.Fatal(err)
	}
	distinct, err := fixture.FleetDistinctLayers(images)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, im := range images {
		ls, _ := im.Image.Layers()
		total += len(ls)
	}
	return images, distinct, total
}

// scanAll scans images 8 at a time with opts, results in order.
func scanAll(t *testing.T, images []fixture.FleetImage, opts scanner.Options) []*scanner.Result {
	t.Helper()
	sc := scanner.New(opts)
	out := make([]*scanner.Result, len(images))
	var g errgroup.Group
	g.SetLimit(8)
	for i, im := range images {
		g.Go(func() (err error) {
			out[i], err = sc.ScanImage(context.Background(), im.Image)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestShareReadsEachLayerOnce: the fleet's 30 images scanned 8 at a time
// with one Share read each distinct layer once, with or without a layer
// cache, and find what each image scanned alone finds.
func TestShareReadsEachLayerOnce(t *testing.T) {
	images, distinct, total := fleetImages(t)
	alone := scanAll(t, images, scanner.Options{})
	for _, tc := range []struct {
		name  string
		cache scanner.LayerCache
		memo  int64
	}{{"memory", nil, 256 << 20}, {"layer cache", newMemCache(), 0}} {
		t.Run(tc.name, func(t *testing.T) {
			sh := scanner.NewShare(tc.memo)
			shared := scanAll(t, images, scanner.Options{Share: sh, Cache: tc.cache, Parallelism: 2})
			c := sh.Counts()
			if c.Read != int64(distinct) || c.Cached != 0 || c.Shared != int64(total-distinct) {
				t.Errorf("counts %+v, want %d read, %d shared", c, distinct, total-distinct)
			}
			var layers, sharedLayers int
			for i := range images {
				if !reflect.DeepEqual(summarize(shared[i].Findings), summarize(alone[i].Findings)) {
					t.Errorf("%s:%s: %+v, alone %+v", images[i].Repo, images[i].Tag, summarize(shared[i].Findings), summarize(alone[i].Findings))
				}
				layers += shared[i].Stats.Layers
				sharedLayers += shared[i].Stats.SharedLayers
			}
			if layers != total || sharedLayers != total-distinct {
				t.Errorf("stats: %d layers, %d shared; want %d, %d", layers, sharedLayers, total, total-distinct)
			}
		})
	}
	// A second run with the same cache: every distinct layer from it.
	cache := newMemCache()
	scanAll(t, images, scanner.Options{Share: scanner.NewShare(0), Cache: cache})
	sh := scanner.NewShare(0)
	scanAll(t, images, scanner.Options{Share: sh, Cache: cache})
	if c := sh.Counts(); c.Read != 0 || c.Cached != int64(distinct) || c.Shared != int64(total-distinct) {
		t.Errorf("second run: %+v, want 0 read, %d cached, %d shared", c, distinct, total-distinct)
	}
}

// TestSplitScan: planning, reading each layer on its own and assembling
// gives the findings ScanImage gives, keystore verification across layers
// included; a second plan finds every layer cached; a missing layer or a
// config that does not match its digest is refused.
func TestSplitScan(t *testing.T) {
	ctx := context.Background()
	images := map[string]v1.Image{"v1": mustImage(t, fixture.STSv1), "zoo": mustImage(t, fixture.Zoo)}
	for name, img := range images {
		t.Run(name, func(t *testing.T) {
			cache := newMemCache()
			sc := scanner.New(scanner.Options{Cache: cache})
			target := &scanner.Target{Input: name, Kind: scanner.KindRegistry, Image: img}
			plan, err := sc.PlanImage(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range plan.Layers {
				if l.Cached {
					t.Fatalf("layer %d cached in an empty cache", l.Number)
				}
				out, err := sc.ScanLayerOf(ctx, target, l.Number, l.Key, "run")
				if err != nil || !out.Read {
					t.Fatalf("layer %d: %+v %v", l.Number, out, err)
				}
			}
			got, err := sc.Assemble(ctx, plan, "run", func(string) scanner.LayerOrigin { return scanner.ReadInRun })
			if err != nil {
				t.Fatal(err)
			}
			want := scanImage(t, img, scanner.Options{})
			if !reflect.DeepEqual(summarize(got.Findings), summarize(want.Findings)) || len(got.Findings) == 0 {
				t.Errorf("assembled %+v\nScanImage %+v", summarize(got.Findings), summarize(want.Findings))
			}
			if !reflect.DeepEqual(got.Layers, want.Layers) || got.Stats.Files != want.Stats.Files || got.Stats.Bytes != want.Stats.Bytes {
				t.Errorf("layers or stats differ: %+v %+v", got.Stats, want.Stats)
			}
			again, err := sc.PlanImage(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range again.Layers {
				if !l.Cached {
					t.Errorf("second plan: layer %d not cached", l.Number)
				}
				if out, err := sc.ScanLayerOf(ctx, target, l.Number, l.Key, "run"); err != nil || out.Read {
					t.Errorf("layer %d read again: %+v %v", l.Number, out, err)
				}
			}
			if _, err := sc.ScanLayerOf(ctx, target, 1, "0000", "run"); err == nil {
				t.Error("a layer key that is not this scanner's was accepted")
			}
			// A layer gone from the cache.
			cache.mu.Lock()
			delete(cache.m, plan.Layers[0].Key)
			cache.mu.Unlock()
			if _, err := sc.Assemble(ctx, plan, "run", func(string) scanner.LayerOrigin { return scanner.FromCache }); !errors.Is(err, scanner.ErrNotInCache) {
				t.Errorf("a missing layer: %v", err)
			}
			// A config swapped in the cache.
			cache.mu.Lock()
			for k, v := range cache.m {
				if len(v) > 0 && v[0] == '{' && string(v[:min(len(v), 12)]) == `{"architectu` {
					cache.m[k] = append(v, ' ')
				}
			}
			cache.mu.Unlock()
			sc.ScanLayerOf(ctx, target, 1, plan.Layers[0].Key, "run")
			if _, err := sc.Assemble(ctx, plan, "run", func(string) scanner.LayerOrigin { return scanner.FromCache }); err == nil || !strings.Contains(err.Error(), "does not match its digest") {
				t.Errorf("a config that does not match its digest: %v", err)
			}
		})
	}
}
