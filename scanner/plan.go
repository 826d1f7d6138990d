package scanner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// An image scan can also be split across processes that share a layer
// cache (a queue of workers): PlanImage resolves the image and stores its
// config in the cache; ScanLayerOf reads one layer into the cache; and
// Assemble, once every layer's result is there, runs the image passes
// over them, as ScanImage does over the results it read or found in the
// cache. The findings are the same as ScanImage's: the same layer results
// (the cache holds what the walker returned) and the same passes.

// ImagePlan is what resolving an image found, besides its layers'
// results: names and digests only. The image's content, its config
// included (whose Env and history hold secrets), stays in the cache.
type ImagePlan struct {
	Input    string `json:"input"`
	Kind     string `json:"kind"`
	Ref      string `json:"ref,omitempty"`
	Digest   string `json:"digest,omitempty"`
	ImageID  string `json:"image_id"`
	Platform string `json:"platform,omitempty"`
	// Engine is the rules engine's version the layer keys were made with.
	Engine string         `json:"engine"`
	Layers []PlannedLayer `json:"layers"`
}

// PlannedLayer is one layer of a planned image.
type PlannedLayer struct {
	Number int    `json:"number"`
	DiffID string `json:"diff_id"`
	Digest string `json:"digest,omitempty"`
	// Key is the layer cache key of its result.
	Key string `json:"key"`
	// Cached says the cache held the result when the image was planned.
	Cached bool `json:"cached,omitempty"`
}

// errNoCache is returned by the split scan without a layer cache.
var errNoCache = errors.New("a split scan needs a layer cache")

// PlanImage resolves t's image (its config and layers, checked as ScanImage
// checks them), stores its config in the cache under its digest, and says
// for each layer its cache key and whether the cache holds its result.
func (s *Scanner) PlanImage(ctx context.Context, t *Target) (*ImagePlan, error) {
	if s.opts.Cache == nil {
		return nil, errNoCache
	}
	if t.Image == nil {
		return nil, fmt.Errorf("%s: only images can be planned", t.Input)
	}
	engine, err := s.engine()
	if err != nil {
		return nil, err
	}
	im, err := resolve(ctx, t.Image)
	if err != nil {
		return nil, err
	}
	raw, err := t.Image.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	id, err := v1.NewHash(im.res.ImageID)
	if err != nil {
		return nil, fmt.Errorf("image config digest: %w", err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != id.Hex {
		return nil, fmt.Errorf("image config does not match its digest %s: refused", id)
	}
	if err := s.opts.Cache.Put(ctx, configKey(id), raw); err != nil {
		return nil, fmt.Errorf("storing the image config in the layer cache: %w", err)
	}
	base := s.keyBase(engine)
	p := &ImagePlan{Input: t.Input, Kind: t.Kind, Ref: t.Ref, Digest: t.Digest, ImageID: id.String(),
		Platform: im.res.Platform, Engine: engine.Version()}
	for i, at := range im.at {
		pl := PlannedLayer{Number: i + 1, DiffID: at.DiffID.String(), Key: base.key(at.DiffID, storedDigest(at))}
		if at.Storage.HasDigest {
			pl.Digest = at.Digest.String()
		}
		_, pl.Cached, _ = s.opts.Cache.Get(ctx, pl.Key)
		p.Layers = append(p.Layers, pl)
	}
	return p, nil
}

func storedDigest(at LayerAt) v1.Hash {
	if at.Storage.HasDigest {
		return at.Digest
	}
	return v1.Hash{}
}

// PartialKey is the cache key under which ScanLayerOf keeps, for one run,
// a layer's result that may not be stored under its own key: one a limit
// or a broken tar cut short (its bytes were checked all the same). Only
// that run's Assemble reads it.
func PartialKey(run, key string) string {
	b, _ := json.Marshal(struct{ Format, Run, Key string }{"peel-partial-layer-1", run, key})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// LayerOutcome says what ScanLayerOf did.
type LayerOutcome struct {
	Read  bool  // the layer was read (not found in the cache)
	Stats Stats // what reading it counted
}

// ScanLayerOf reads layer n (1-based) of t's image through the layer
// cache, as ScanImage reads it, so that its result is in the cache under
// key, the key its plan names (another key means this scanner's rules or
// options differ from the planner's: an error). A result that may not be
// stored under key is kept under PartialKey(run, key).
func (s *Scanner) ScanLayerOf(ctx context.Context, t *Target, n int, key, run string) (LayerOutcome, error) {
	if s.opts.Cache == nil {
		return LayerOutcome{}, errNoCache
	}
	if t.Image == nil {
		return LayerOutcome{}, fmt.Errorf("%s: not an image", t.Input)
	}
	engine, err := s.engine()
	if err != nil {
		return LayerOutcome{}, err
	}
	im, err := resolve(ctx, t.Image)
	if err != nil {
		return LayerOutcome{}, err
	}
	if n < 1 || n > len(im.at) {
		return LayerOutcome{}, fmt.Errorf("the image has %d layers, not a layer %d", len(im.at), n)
	}
	at := im.at[n-1]
	base := s.keyBase(engine)
	if got := base.key(at.DiffID, storedDigest(at)); got != key {
		return LayerOutcome{}, fmt.Errorf("layer %d: its cache key here is %s, not the planned %s: this peel's rules or options differ from the planner's", n, got, key)
	}
	ls := &cachingScanner{next: walkScanner{s: s, engine: engine, budget: s.newBudget()}, cache: s.opts.Cache, base: base, log: logger(s.opts.Logger)}
	res, err := ls.ScanLayer(ctx, im.layers[n-1], at)
	if err != nil {
		return LayerOutcome{}, fmt.Errorf("layer %d: %w", n, err)
	}
	out := LayerOutcome{Read: res.Stats.CachedLayers == 0, Stats: res.Stats}
	if !out.Read {
		return out, nil
	}
	if !res.Complete {
		b, err := json.Marshal(res)
		if err == nil {
			err = s.opts.Cache.Put(ctx, PartialKey(run, key), b)
		}
		if err != nil {
			return out, fmt.Errorf("layer %d: keeping its result in the layer cache: %w", n, err)
		}
		return out, nil
	}
	// The cache ignores a failed Put; a split scan cannot.
	if _, ok, err := s.opts.Cache.Get(ctx, key); err != nil || !ok {
		return out, fmt.Errorf("layer %d: the layer cache did not keep its result (%v)", n, err)
	}
	return out, nil
}

// LayerOrigin says where an assembled image's layer result counts as
// coming from, for its stats.
type LayerOrigin int

// Origins of an assembled layer result.
const (
	FromCache   LayerOrigin = iota // in the cache before the run
	ReadInRun                      // read during the run: its read's counts are the image's
	SharedInRun                    // another image of the run had it
)

// ErrNotInCache is wrapped by Assemble's error when a layer's result is
// not (or no longer) in the cache.
var ErrNotInCache = errors.New("not in the layer cache")

// Assemble makes the image's result from its config and its layers'
// results in the cache, through the image passes ScanImage runs. origin
// says how each layer's result counts in the stats.
func (s *Scanner) Assemble(ctx context.Context, p *ImagePlan, run string, origin func(key string) LayerOrigin) (*Result, error) {
	if s.opts.Cache == nil {
		return nil, errNoCache
	}
	engine, err := s.engine()
	if err != nil {
		return nil, err
	}
	if p.Engine != engine.Version() {
		return nil, fmt.Errorf("planned with rules %s, assembled with rules %s: the workers and this peel differ", p.Engine, engine.Version())
	}
	id, err := v1.NewHash(p.ImageID)
	if err != nil {
		return nil, fmt.Errorf("image config digest: %w", err)
	}
	raw, ok, err := s.opts.Cache.Get(ctx, configKey(id))
	if err != nil || !ok {
		return nil, fmt.Errorf("image config %s: %w (%v)", id, ErrNotInCache, err)
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != id.Hex {
		return nil, fmt.Errorf("image config in the layer cache does not match its digest %s: refused", id)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if len(cfg.RootFS.DiffIDs) != len(p.Layers) {
		return nil, fmt.Errorf("%w: the plan lists %d layers and the config %d diff_ids", errMalformed, len(p.Layers), len(cfg.RootFS.DiffIDs))
	}
	base := s.keyBase(engine)
	res := &Result{Input: p.Input, Kind: p.Kind, Ref: p.Ref, Digest: p.Digest, ImageID: id.String(), Platform: platformString(cfg)}
	history := layerHistory(cfg, len(p.Layers))
	results := make([]*LayerResult, len(p.Layers))
	for i, pl := range p.Layers {
		d := cfg.RootFS.DiffIDs[i]
		digest := v1.Hash{}
		if pl.Digest != "" {
			if digest, err = v1.NewHash(pl.Digest); err != nil {
				return nil, fmt.Errorf("layer %d: %w", i+1, err)
			}
		}
		if d.String() != pl.DiffID || base.key(d, digest) != pl.Key {
			return nil, fmt.Errorf("layer %d: the plan does not match the image config", i+1)
		}
		b, ok, err := s.opts.Cache.Get(ctx, pl.Key)
		partial := false
		if err == nil && !ok {
			b, ok, err = s.opts.Cache.Get(ctx, PartialKey(run, pl.Key))
			partial = ok
		}
		if err != nil || !ok {
			return nil, fmt.Errorf("layer %d: %w (%v)", i+1, ErrNotInCache, err)
		}
		var lr LayerResult
		if err := json.Unmarshal(b, &lr); err != nil {
			return nil, fmt.Errorf("layer %d: its cached result does not decode: %w", i+1, err)
		}
		lr.renumber(i+1, "", "")
		lr.Complete = !partial
		switch origin(pl.Key) {
		case ReadInRun:
			lr.Stats.Layers, lr.Stats.CachedLayers, lr.Stats.SharedLayers = 1, 0, 0
		case SharedInRun:
			lr.Stats = Stats{Layers: 1, SharedLayers: 1}
		default:
			lr.Stats = Stats{Layers: 1, CachedLayers: 1}
		}
		results[i] = &lr
		res.Layers = append(res.Layers, Layer{Number: i + 1, DiffID: d.String(), CreatedBy: history[i]})
	}
	unread := 0
	for _, r := range results {
		if r.Unread {
			unread++
		}
	}
	if unread == len(results) && len(results) > 0 {
		last := results[0].Incomplete
		reason := "unreadable"
		if len(last) > 0 {
			reason = last[len(last)-1].Reason
		}
		return nil, fmt.Errorf("no layer could be read: %s", reason)
	}
	return s.imagePasses(ctx, engine, cfg, res, results)
}
