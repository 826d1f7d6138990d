package scanner

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"

	"github.com/peelscan/peel/rules"
)

// streamSource is an image archive that can only be read front to back,
// once: the Docker daemon's save stream, or a docker save archive
// compressed whole (docker save | gzip). Its manifest.json comes last, so
// every layer is scanned as it passes, with its DiffID (and, for OCI-style
// blobs, its digest) computed on the same bytes, and matched with the
// manifest and the config at the end. Nothing is held but the small JSON
// entries: memory stays bounded whatever the image's size.
type streamSource struct {
	open func(ctx context.Context) (io.ReadCloser, error)
	gzip bool   // the archive is gzip-compressed as a whole
	ref  string // the image to pick by tag; "" for an archive of one image
	// What the daemon says of the image before it is saved (it computed
	// both itself): with a cache holding the config and every layer, the
	// image is not saved at all. The save stream is checked against them.
	imageID v1.Hash
	diffIDs []v1.Hash
}

// maxKept bounds the small entries (manifests, configs) kept from a
// stream, all together.
const maxKept = 64 << 20

// streamLayer is one layer entry of a stream, scanned.
type streamLayer struct {
	res            *LayerResult
	diffID, digest v1.Hash
	label          string
	used           bool
}

func (s *Scanner) scanStream(ctx context.Context, src *streamSource) (*Result, error) {
	engine, err := s.engine()
	if err != nil {
		return nil, err
	}
	base := s.keyBase(engine)
	if s.opts.Cache != nil && src.imageID.Hex != "" {
		if res, ok := s.streamFromCache(ctx, engine, base, src); ok {
			return res, nil
		}
	}
	rc, err := src.open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var r io.Reader = bufio.NewReaderSize(ctxReader{ctx: ctx, r: rc}, 1<<20)
	if src.gzip {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %w", err)
		}
		defer zr.Close()
		r = zr
	}
	layers, small, ln, err := s.readStream(ctx, engine, r)
	if err != nil {
		return nil, err
	}
	raw, ok := small["manifest.json"]
	if !ok {
		return nil, errors.New("not a docker-archive: the archive has no manifest.json (make one with docker save)")
	}
	d, err := pickSaved(raw, src.ref)
	if err != nil {
		return nil, err
	}
	rawCfg, ok := small[ln.resolve(d.Config)]
	if !ok {
		return nil, fmt.Errorf("the config %s is not in the archive", d.Config)
	}
	cfg, id, err := savedConfig(d.Config, rawCfg)
	if err != nil {
		return nil, err
	}
	if src.imageID.Hex != "" && id != src.imageID {
		return nil, fmt.Errorf("%w: the daemon saved config %s for image %s", ErrDigestMismatch, id, src.imageID)
	}
	if err := checkSaved(d, cfg, ln); err != nil {
		return nil, err
	}
	res := &Result{Platform: platformString(cfg), ImageID: id.String()}
	history := layerHistory(cfg, len(d.Layers))
	results := make([]*LayerResult, len(d.Layers))
	for i, p := range d.Layers {
		e, ok := layers[ln.resolve(p)]
		if !ok {
			return nil, fmt.Errorf("layer %d (%s) is not in the archive", i+1, p)
		}
		want := cfg.RootFS.DiffIDs[i]
		if e.diffID != want {
			return nil, fmt.Errorf("layer %d: %w: its content is %s, the config's diff_id says %s", i+1, ErrDigestMismatch, e.diffID, want)
		}
		if len(src.diffIDs) == len(d.Layers) && src.diffIDs[i] != want {
			return nil, fmt.Errorf("layer %d: %w: the daemon names it %s, the saved config %s", i+1, ErrDigestMismatch, src.diffIDs[i], want)
		}
		if hexd := digestInName(ln.resolve(p)); hexd != "" && e.digest.Hex != hexd {
			return nil, fmt.Errorf("layer %d: %w: blob %s holds %s", i+1, ErrDigestMismatch, p, e.digest)
		}
		r := e.res
		if e.used {
			// The same file listed twice (with the same diff_id): a copy.
			r = cloneResult(r)
		}
		e.used = true
		r.renumber(i+1, e.label, fmt.Sprintf("layer %d", i+1))
		results[i] = r
		res.Layers = append(res.Layers, Layer{Number: i + 1, DiffID: want.String(), CreatedBy: history[i]})
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
	if s.opts.Cache != nil {
		for i, r := range results {
			if r.Complete {
				putResult(ctx, s.opts.Cache, base.key(cfg.RootFS.DiffIDs[i], v1.Hash{}), r)
			}
		}
		_ = s.opts.Cache.Put(ctx, configKey(id), rawCfg)
	}
	return s.imagePasses(ctx, engine, cfg, res, results)
}

// readStream scans every layer entry of an archive stream as it passes and
// keeps the small entries, by name.
func (s *Scanner) readStream(ctx context.Context, engine *rules.Engine, r io.Reader) (map[string]*streamLayer, map[string][]byte, links, error) {
	tr := tar.NewReader(r)
	ln := links{}
	layers := map[string]*streamLayer{}
	small := map[string][]byte{}
	kept := int64(0)
	budget := s.newBudget()
	br := bufio.NewReaderSize(nil, 64<<10)
	for n := 0; ; {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if n == 0 && len(small) == 0 {
				return nil, nil, nil, errors.New("not a docker-archive: an empty tar")
			}
			return layers, small, ln, nil
		}
		if err != nil {
			if n == 0 && len(small) == 0 {
				return nil, nil, nil, fmt.Errorf("not a docker-archive: not a tar (%v)", err)
			}
			return nil, nil, nil, fmt.Errorf("reading the archive: %w", err)
		}
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			ln.add(hdr)
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := cleanEntry(hdr.Name)
		br.Reset(tr)
		head, _ := br.Peek(int(min(hdr.Size, headSize)))
		if isLayerHead(head) {
			n++
			w := s.newWalker(engine, n, budget)
			w.layerName, w.hashStored, w.streamTotal = "layer "+name, true, hdr.Size
			if err := w.layerStream(ctx, br, LayerAt{Number: n, Of: n, Size: hdr.Size, Storage: Storage{Stored: true}}); err != nil {
				return nil, nil, nil, err
			}
			layers[name] = &streamLayer{res: w.layerResult(), diffID: w.state.diffID, digest: w.state.digest, label: w.label()}
			continue
		}
		if hdr.Size <= maxLayoutJSON && kept+hdr.Size <= maxKept {
			b, err := io.ReadAll(br)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("reading the archive: %w", err)
			}
			small[name] = b
			kept += int64(len(b))
		}
	}
}

// isLayerHead tells a layer entry of an archive by its first bytes: a tar
// (an empty one is all zeros), or gzip or zstd.
func isLayerHead(head []byte) bool {
	if isTar(head) || bytes.HasPrefix(head, gzipMagic[:2]) || bytes.HasPrefix(head, zstdMagic) {
		return true
	}
	return len(head) == headSize && bytes.Count(head, []byte{0}) == headSize
}

// configKey is the cache key of an image config, stored as is: its
// identity is its own digest, checked on every Get.
func configKey(id v1.Hash) string {
	b, _ := json.Marshal(struct{ Format, ImageID string }{"peel-image-config-1", id.String()})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// streamFromCache serves a daemon image whose config (checked against the
// image ID) and every layer are in the cache, without saving it.
func (s *Scanner) streamFromCache(ctx context.Context, engine *rules.Engine, base keyBase, src *streamSource) (*Result, bool) {
	raw, ok, err := s.opts.Cache.Get(ctx, configKey(src.imageID))
	if err != nil || !ok {
		return nil, false
	}
	if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != src.imageID.Hex {
		return nil, false
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil || len(cfg.RootFS.DiffIDs) != len(src.diffIDs) {
		return nil, false
	}
	res := &Result{Platform: platformString(cfg), ImageID: src.imageID.String()}
	history := layerHistory(cfg, len(cfg.RootFS.DiffIDs))
	var results []*LayerResult
	for i, d := range cfg.RootFS.DiffIDs {
		if d != src.diffIDs[i] {
			return nil, false
		}
		b, ok, err := s.opts.Cache.Get(ctx, base.key(d, v1.Hash{}))
		if err != nil || !ok {
			return nil, false
		}
		r, ok := decodeResult(b, i+1)
		if !ok {
			return nil, false
		}
		results = append(results, r)
		res.Layers = append(res.Layers, Layer{Number: i + 1, DiffID: d.String(), CreatedBy: history[i]})
	}
	res, err = s.imagePasses(ctx, engine, cfg, res, results)
	return res, err == nil
}

func cloneResult(r *LayerResult) *LayerResult {
	b, err := json.Marshal(r)
	if err != nil {
		return r
	}
	var c LayerResult
	if json.Unmarshal(b, &c) != nil {
		return r
	}
	c.Complete = r.Complete
	return &c
}
