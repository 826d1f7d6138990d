package scanner

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
)

// Share lets the images of one run share their layers' results: a layer
// that several images hold, by the identity its read verifies (the layer
// cache key), is read once, while the others wait for it
// (golang.org/x/sync/singleflight) and take its result, placed at their
// own layer position. Later images find it through the layer cache or,
// without one, in the share's memory, up to a bound. Across the run, at
// most the scanner's Parallelism layers are read at once, whatever the
// number of images scanned together. A Share is safe for concurrent use;
// give the same one to the Options of every scan of the run.
type Share struct {
	group singleflight.Group
	once  sync.Once
	slots chan struct{}

	mu       sync.Mutex
	seen     map[string]bool   // keys whose complete result the run has had
	memo     map[string][]byte // encoded results, without a layer cache
	memoLeft int64

	read, cached, shared atomic.Int64
}

// NewShare returns a Share that keeps up to memory bytes of encoded
// results for later images (0: none; with a layer cache, later images
// find the results there).
func NewShare(memory int64) *Share {
	return &Share{seen: map[string]bool{}, memo: map[string][]byte{}, memoLeft: memory}
}

// ShareCounts says what the run's layers came to: Read from their source,
// from the layer Cache, and Shared (another image's read or cache entry in
// the same run). Read+Cached is the number of distinct layers.
type ShareCounts struct {
	Read, Cached, Shared int64
}

// Counts returns the run's counts so far.
func (sh *Share) Counts() ShareCounts {
	return ShareCounts{Read: sh.read.Load(), Cached: sh.cached.Load(), Shared: sh.shared.Load()}
}

func (sh *Share) acquire(ctx context.Context, n int) error {
	sh.once.Do(func() { sh.slots = make(chan struct{}, max(n, 1)) })
	select {
	case sh.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sh *Share) release() { <-sh.slots }

func (sh *Share) remember(key string, b []byte) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.seen[key] = true
	if _, ok := sh.memo[key]; !ok && int64(len(b)) <= sh.memoLeft {
		sh.memo[key] = b
		sh.memoLeft -= int64(len(b))
	}
}

func (sh *Share) lookup(key string) (b []byte, seen bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.memo[key], sh.seen[key]
}

// sharingScanner wraps the layer cache (and the walker below it) with a
// Share.
type sharingScanner struct {
	next        LayerScanner
	sh          *Share
	base        keyBase
	parallelism int
}

// leaderResult is what the one read of a layer hands to those waiting.
type leaderResult struct {
	res     *LayerResult
	encoded []byte // set when res is complete, and so shareable
}

func (c *sharingScanner) ScanLayer(ctx context.Context, l v1.Layer, at LayerAt) (*LayerResult, error) {
	if at.DiffID.Hex == "" {
		return c.own(ctx, l, at, false)
	}
	digest := v1.Hash{}
	if at.Storage.HasDigest {
		digest = at.Digest
	}
	key := c.base.key(at.DiffID, digest)
	if b, _ := c.sh.lookup(key); b != nil {
		if res, ok := decodeShared(b, at.Number); ok {
			c.sh.shared.Add(1)
			return res, nil
		}
	}
	leader := false
	v, err, _ := c.sh.group.Do(key, func() (any, error) {
		leader = true
		_, seen := c.sh.lookup(key)
		res, err := c.own(ctx, l, at, seen)
		if err != nil {
			return nil, err
		}
		out := &leaderResult{res: res}
		if res.Complete {
			if b, err := json.Marshal(res); err == nil {
				out.encoded = b
				c.sh.remember(key, b)
			}
		}
		return out, nil
	})
	if leader {
		if err != nil {
			return nil, err
		}
		return v.(*leaderResult).res, nil
	}
	if err == nil && v.(*leaderResult).encoded != nil {
		if res, ok := decodeShared(v.(*leaderResult).encoded, at.Number); ok {
			c.sh.shared.Add(1)
			return res, nil
		}
	}
	// The read this scan waited for failed (its image was refused, or
	// interrupted) or cannot be shared (a scan-wide limit cut it): read
	// the layer for this image.
	return c.own(ctx, l, at, false)
}

// own reads the layer (or takes it from the cache) in one of the run's
// slots and counts it; seen says the run has had this layer before (a
// later image finding it in the cache), which makes it shared.
func (c *sharingScanner) own(ctx context.Context, l v1.Layer, at LayerAt, seen bool) (*LayerResult, error) {
	if err := c.sh.acquire(ctx, c.parallelism); err != nil {
		return nil, err
	}
	res, err := c.next.ScanLayer(ctx, l, at)
	c.sh.release()
	if err != nil {
		return nil, err
	}
	switch {
	case seen && res.Stats.CachedLayers > 0:
		res.Stats = Stats{Layers: 1, SharedLayers: 1}
		c.sh.shared.Add(1)
	case res.Stats.CachedLayers > 0:
		c.sh.cached.Add(1)
	default:
		c.sh.read.Add(1)
	}
	return res, nil
}

// decodeShared reads another image's result of the layer, placed at this
// image's layer number.
func decodeShared(b []byte, number int) (*LayerResult, bool) {
	res, ok := decodeResult(b, number)
	if !ok {
		return nil, false
	}
	res.Stats = Stats{Layers: 1, SharedLayers: 1}
	return res, true
}
