package scanner

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/peelscan/peel/rules"
)

// An image scan runs in three stages:
//
//  1. resolve: the config (retried on a dropped connection), the layers, and
//     for each layer what it must be (the config's diff_id, the manifest's
//     digest) and how its source stores it;
//  2. layers: every layer through the LayerScanner chain (the layer cache
//     around the walker), at most Parallelism at a time;
//  3. image passes over all the layers' results: the image config, the
//     merge with keystore verification, and whiteouts.

// Scan scans an opened target: its image, the archive it streams, or its
// path for dir targets.
func (s *Scanner) Scan(ctx context.Context, t *Target) (*Result, error) {
	var (
		res *Result
		err error
	)
	switch {
	case t.Image != nil:
		res, err = s.ScanImage(ctx, t.Image)
	case t.stream != nil:
		res, err = s.scanStream(ctx, t.stream)
	default:
		res, err = s.ScanPath(ctx, t.Path)
	}
	if err != nil {
		return nil, err
	}
	res.Input, res.Kind, res.Ref = t.Input, t.Kind, t.Ref
	if t.Digest != "" {
		res.Digest = t.Digest
	}
	if engine, err := s.engine(); err == nil {
		s.checkSignatures(ctx, engine, t, res)
	}
	return res, nil
}

// ScanImage reads every layer of img once, bottom first, checking each
// against the config's diff_id (and, where its source does not, the
// manifest's digest), and the image config. Layers are read as their
// source stores them (see Storage), with the same limits whatever the
// image came from.
func (s *Scanner) ScanImage(ctx context.Context, img v1.Image) (*Result, error) {
	engine, err := s.engine()
	if err != nil {
		return nil, err
	}
	im, err := resolve(ctx, img)
	if err != nil {
		return nil, err
	}
	results, err := s.scanLayers(ctx, engine, im.layers, im.at)
	if err != nil {
		return nil, err
	}
	return s.imagePasses(ctx, engine, im.cfg, im.res, results)
}

// resolved is an image ready for its layers to be read.
type resolved struct {
	cfg    *v1.ConfigFile
	layers []v1.Layer
	at     []LayerAt
	res    *Result
}

// resolve reads the config and lists the layers with what each must be.
// As docker load does, it refuses a manifest whose layers do not pair with
// the config's diff_ids, or that lists one blob twice for two different
// diff_ids (one of them would hide the other).
func resolve(ctx context.Context, img v1.Image) (*resolved, error) {
	var (
		cfg *v1.ConfigFile
		err error
	)
	for attempt := 1; ; attempt++ {
		if cfg, err = readConfig(img); err == nil || attempt == layerAttempts || !transient(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if transient(err) {
			return nil, fmt.Errorf("reading image config: the connection dropped mid-transfer, %d times: %v", layerAttempts, oneLine(err.Error()))
		}
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(layers) != len(diffIDs) {
		return nil, fmt.Errorf("%w: the manifest lists %d layers and the config %d diff_ids", errMalformed, len(layers), len(diffIDs))
	}
	im := &resolved{cfg: cfg, layers: layers, res: &Result{Platform: platformString(cfg)}}
	if id, err := img.ConfigName(); err == nil {
		im.res.ImageID = id.String()
	}
	history := layerHistory(cfg, len(layers))
	seen := map[v1.Hash]int{}
	for i, l := range layers {
		at := LayerAt{Number: i + 1, Of: len(layers), DiffID: diffIDs[i], Size: -1, Storage: storageOf(l)}
		if at.Storage.HasDigest {
			if at.Digest, err = l.Digest(); err != nil {
				return nil, fmt.Errorf("layer %d: %w", i+1, err)
			}
			if at.Size, err = l.Size(); err != nil {
				return nil, fmt.Errorf("layer %d: %w", i+1, err)
			}
			if j, ok := seen[at.Digest]; ok && diffIDs[j] != diffIDs[i] {
				return nil, fmt.Errorf("%w: layers %d and %d are the same blob with two different diff_ids", errMalformed, j+1, i+1)
			}
			seen[at.Digest] = i
		}
		im.at = append(im.at, at)
		im.res.Layers = append(im.res.Layers, Layer{Number: i + 1, DiffID: diffIDs[i].String(), CreatedBy: history[i]})
	}
	return im, nil
}

// errMalformed marks an image whose manifest and config disagree.
var errMalformed = errors.New("malformed image, refused")

// scanLayers reads the layers through the LayerScanner chain, at most
// Parallelism at a time; the first failure cancels the rest.
func (s *Scanner) scanLayers(ctx context.Context, engine *rules.Engine, layers []v1.Layer, at []LayerAt) ([]*LayerResult, error) {
	s.plan(layers, at)
	var ls LayerScanner = walkScanner{s: s, engine: engine, budget: s.newBudget()}
	if s.opts.Cache != nil {
		ls = &cachingScanner{next: ls, cache: s.opts.Cache, base: s.keyBase(engine), progress: s.opts.Progress, log: logger(s.opts.Logger)}
	}
	if s.opts.Share != nil {
		ls = &sharingScanner{next: ls, sh: s.opts.Share, base: s.keyBase(engine), parallelism: s.opts.Parallelism}
	}
	results := make([]*LayerResult, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Parallelism)
	for i, l := range layers {
		g.Go(func() error {
			var err error
			results[i], err = ls.ScanLayer(gctx, l, at[i])
			return err
		})
	}
	err := g.Wait()
	if ctx.Err() != nil {
		return nil, ctx.Err() // interrupted: no partial result
	}
	if err != nil {
		return nil, err
	}
	unread := 0
	for _, r := range results {
		if r.Unread {
			unread++
		}
	}
	if unread == len(results) && len(results) > 0 {
		return nil, fmt.Errorf("no layer could be read: %s", results[0].Incomplete[len(results[0].Incomplete)-1].Reason)
	}
	return results, nil
}

// imagePasses runs what needs every layer's result: the image config scan,
// the merge (with keystore verification) and whiteouts.
func (s *Scanner) imagePasses(ctx context.Context, engine *rules.Engine, cfg *v1.ConfigFile, res *Result, results []*LayerResult) (*Result, error) {
	cw := s.newWalker(engine, 0, nil)
	cw.imageConfig(cfg)
	s.merge(ctx, res, engine, append(results, cw.result()))
	markDeleted(res.Findings, results)
	return res, nil
}

// layerHistory returns each layer's created_by, matching the history
// entries that are not empty_layer to the layers in order.
func layerHistory(cfg *v1.ConfigFile, n int) []string {
	out := make([]string, n)
	i := 0
	for _, h := range cfg.History {
		if h.EmptyLayer {
			continue
		}
		if i >= n {
			break
		}
		out[i] = h.CreatedBy
		i++
	}
	return out
}

func platformString(cfg *v1.ConfigFile) string {
	if cfg.OS == "" {
		return ""
	}
	p := cfg.OS + "/" + cfg.Architecture
	if cfg.Variant != "" {
		p += "/" + cfg.Variant
	}
	return p
}
