package scanner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/peelscan/peel/internal/atomicfile"
	"github.com/peelscan/peel/rules"
)

// cacheFormat changes when LayerResult's encoding does.
const cacheFormat = "peel-layer-cache-2"

// cacheKey names what a layer's result depends on besides its content:
// the rules and the options that change what a walk reports.
func (s *Scanner) cacheKey(e *rules.Engine) string {
	o := s.opts
	return fmt.Sprintf("%s|%s|depth=%d|file=%d|archive=%d|ratio=%d|entries=%d|deptests=%t|explain=%t|skip=%q|skipdirs=%q",
		cacheFormat, e.Version(), o.MaxDepth, o.MaxFileSize, o.MaxArchiveSize, o.MaxRatio, o.MaxEntries, o.IncludeDependencyTests, o.Explain, o.SkipFiles, o.SkipDirs)
}

// cachingScanner wraps a LayerScanner with a result cache on disk, keyed
// by the layer's DiffID (its uncompressed content, whatever the
// compression) and the cache key. A missing or unreadable entry is a miss;
// failing to store one does not fail the scan.
type cachingScanner struct {
	next     LayerScanner
	dir      string
	key      string
	progress Progress
	log      *slog.Logger
}

func (c *cachingScanner) ScanLayer(ctx context.Context, l v1.Layer, at LayerAt) (*LayerResult, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return c.next.ScanLayer(ctx, l, at)
	}
	sum := sha256.Sum256([]byte(diffID.String() + "|" + c.key))
	name := hex.EncodeToString(sum[:])
	path := filepath.Join(c.dir, name[:2], name+".json")
	if res, ok := c.load(path, at); ok {
		c.log.Debug("layer cache hit", "layer", at.Number, "diff_id", diffID.String(), "entry", path)
		if p, ok := c.progress.(DetailedProgress); ok {
			p.Cached(at.Number, at.Of)
		}
		return res, nil
	}
	c.log.Debug("layer cache miss", "layer", at.Number, "diff_id", diffID.String())
	res, err := c.next.ScanLayer(ctx, l, at)
	if err != nil {
		return nil, err
	}
	if err := c.store(path, res, at); err != nil {
		c.log.Debug("layer cache: result not stored", "layer", at.Number, "error", err.Error())
	}
	return res, nil
}

// load reads a cached result and renumbers it for the layer's position in
// this image (a shared base layer may sit elsewhere in another image).
func (c *cachingScanner) load(path string, at LayerAt) (*LayerResult, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false
	}
	var res LayerResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, false
	}
	for i := range res.Findings {
		res.Findings[i].Layer = at.Number
	}
	for i := range res.Keystores {
		res.Keystores[i].Layer = at.Number
	}
	for i := range res.Incomplete {
		res.Incomplete[i].Layer = at.Number
	}
	for i := range res.Dismissed {
		res.Dismissed[i].Layer = at.Number
	}
	res.Stats = Stats{CachedLayers: 1, Layers: 1}
	return &res, true
}

func (c *cachingScanner) store(path string, res *LayerResult, at LayerAt) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	os.Chmod(c.dir, 0o700)
	p, err := atomicfile.PrepareMode(path, 0o600, func(w io.Writer) error { return json.NewEncoder(w).Encode(res) })
	if err != nil {
		return err
	}
	return p.Commit()
}
