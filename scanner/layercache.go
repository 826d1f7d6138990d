package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/peelscan/peel/rules"
)

// LayerCache stores encoded layer results (and the configs of daemon
// images) under keys the scanner derives; values are opaque bytes, so a
// store can be a directory (scanner/cache), a shared server, or a wrapper
// that encrypts them. A Get error counts as a miss, a Put error does not
// fail the scan. The values hold the secrets found and the keystores
// kept to be verified: scanner/cache's Seal encrypts any store's values
// under a key kept outside it.
type LayerCache interface {
	// Get returns the value stored under key, and whether there is one.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Put stores value under key, replacing any earlier value.
	Put(ctx context.Context, key string, value []byte) error
}

// walkerVersion changes whenever the walker changes what it reports for
// the same layer (a format it opens, a member it skips, a message), so that
// results cached by an older walker are not reused.
const walkerVersion = 5

// resultFormat names LayerResult's JSON encoding in the cache.
const resultFormat = "peel-layer-result-3"

// keyBase is everything a layer's result depends on besides the layer:
// the result encoding, the walker, the rules and the result options.
type keyBase struct {
	Format  string
	Walker  int
	Engine  string
	Options ResultOptions
}

// layerKey is the cache key's input: the key is the SHA-256 of its JSON,
// so that a field added here or to ResultOptions changes every key. The
// layer's identity is what reading it verifies before anything is stored:
// its DiffID, and the digest of its stored bytes where the source has one
// (a registry or OCI blob).
type layerKey struct {
	keyBase
	DiffID string
	Digest string `json:",omitempty"`
}

func (s *Scanner) keyBase(e *rules.Engine) keyBase {
	return keyBase{Format: resultFormat, Walker: walkerVersion, Engine: e.Version(), Options: s.opts.ResultOptions}
}

func (k layerKey) String() string {
	b, err := json.Marshal(k)
	if err != nil {
		panic(err) // plain strings and numbers: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (b keyBase) key(diffID, digest v1.Hash) string {
	k := layerKey{keyBase: b, DiffID: diffID.String()}
	if digest.Hex != "" {
		k.Digest = digest.String()
	}
	return k.String()
}

// cachingScanner wraps a LayerScanner with a LayerCache. It looks a layer
// up under the identity the image claims for it (config diff_id, manifest
// digest), and stores only results the scanner below marks Complete,
// which it does only once the bytes read matched that identity: an entry
// exists only for content that hashes to its key.
type cachingScanner struct {
	next     LayerScanner
	cache    LayerCache
	base     keyBase
	progress Progress
	log      *slog.Logger
}

func (c *cachingScanner) ScanLayer(ctx context.Context, l v1.Layer, at LayerAt) (*LayerResult, error) {
	if at.DiffID.Hex == "" {
		return c.next.ScanLayer(ctx, l, at)
	}
	digest := v1.Hash{}
	if at.Storage.HasDigest {
		digest = at.Digest
	}
	key := c.base.key(at.DiffID, digest)
	if b, ok, err := c.cache.Get(ctx, key); err == nil && ok {
		if res, ok := decodeResult(b, at.Number); ok {
			c.log.Debug("layer cache hit", "layer", at.Number, "diff_id", at.DiffID.String())
			if p, ok := c.progress.(DetailedProgress); ok {
				p.Cached(at.Number, at.Of)
			}
			return res, nil
		}
	}
	c.log.Debug("layer cache miss", "layer", at.Number, "diff_id", at.DiffID.String())
	res, err := c.next.ScanLayer(ctx, l, at)
	if err != nil {
		return nil, err
	}
	if res.Complete {
		if err := putResult(ctx, c.cache, key, res); err != nil {
			c.log.Debug("layer cache: result not stored", "layer", at.Number, "error", err.Error())
		}
	} else {
		c.log.Debug("layer cache: result not stored (the layer was not read whole)", "layer", at.Number)
	}
	return res, nil
}

func putResult(ctx context.Context, c LayerCache, key string, res *LayerResult) error {
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return c.Put(ctx, key, b)
}

// decodeResult reads a cached result and renumbers it for the layer's
// position in this image (a shared base layer may sit elsewhere in another
// image).
func decodeResult(b []byte, number int) (*LayerResult, bool) {
	var res LayerResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, false
	}
	res.renumber(number, "", "")
	res.Stats = Stats{CachedLayers: 1, Layers: 1}
	res.Complete = true
	return &res, true
}

// renumber places a layer's result at layer number; where an Incomplete's
// path is the layer's label from, it becomes to.
func (r *LayerResult) renumber(number int, from, to string) {
	for i := range r.Findings {
		r.Findings[i].Layer = number
	}
	for i := range r.Keystores {
		r.Keystores[i].Layer = number
	}
	for i := range r.Incomplete {
		r.Incomplete[i].Layer = number
		if p := r.Incomplete[i].Path; from != "" && len(p) == 1 && p[0] == from {
			r.Incomplete[i].Path = []string{to}
		}
	}
	for i := range r.Dismissed {
		r.Dismissed[i].Layer = number
	}
}
