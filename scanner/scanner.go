package scanner

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/peelscan/peel/rules"
)

// Scanner scans images and filesystems with one set of Options. It is safe
// for concurrent use.
type Scanner struct {
	opts Options
}

// New returns a Scanner; zero fields of opts take their defaults.
func New(opts Options) *Scanner { return &Scanner{opts: opts.withDefaults()} }

func (s *Scanner) engine() (*rules.Engine, error) {
	if s.opts.skipErr != nil {
		return nil, s.opts.skipErr
	}
	if s.opts.Engine != nil {
		return s.opts.Engine, nil
	}
	return rules.DefaultEngine()
}

func (s *Scanner) newWalker(e *rules.Engine, layer int, b *budget) *walker {
	return &walker{opts: s.opts, engine: e, layer: layer, budget: b}
}

func (s *Scanner) newBudget() *budget {
	b := &budget{}
	b.left.Store(s.opts.MaxTotalInflate)
	return b
}

// Scan scans an opened target: its image, or its path for dir targets.
func (s *Scanner) Scan(ctx context.Context, t *Target) (*Result, error) {
	var (
		res *Result
		err error
	)
	if t.Image != nil {
		res, err = s.scanImage(ctx, t.Image, storedCompressed(t.Kind))
	} else {
		res, err = s.ScanPath(ctx, t.Path)
	}
	if err != nil {
		return nil, err
	}
	res.Input, res.Kind, res.Digest, res.Ref = t.Input, t.Kind, t.Digest, t.Ref
	return res, nil
}

// layerAttempts bounds how often a layer whose stream broke off is read.
const layerAttempts = 3

// transient reports stream failures worth reading the layer again for.
func transient(err error) bool {
	if errors.Is(err, ErrDigestMismatch) || isTampered(err) {
		return false
	}
	return transientNet(err)
}

// ErrDigestMismatch is wrapped in the error for a blob whose content does
// not match its digest: tampered with or corrupt, and refused.
var ErrDigestMismatch = errors.New("content does not match its digest or size (tampered or corrupt); refused")

// storedCompressed tells the sources whose layers are stored compressed
// and sized by their manifest: they are read through Compressed(), so that
// progress counts what is pulled against the manifest's sizes. A docker
// save archive keeps layers uncompressed, and its Compressed() would
// compress them again: it is read through Uncompressed().
func storedCompressed(kind string) bool {
	return kind == KindRegistry || kind == KindOCI || kind == KindOCIArchive
}

// ScanImage reads every layer of img, bottom first, and the image config.
func (s *Scanner) ScanImage(ctx context.Context, img v1.Image) (*Result, error) {
	return s.scanImage(ctx, img, false)
}

func (s *Scanner) scanImage(ctx context.Context, img v1.Image, compressed bool) (*Result, error) {
	engine, err := s.engine()
	if err != nil {
		return nil, err
	}
	var cfg *v1.ConfigFile
	for attempt := 1; ; attempt++ {
		if cfg, err = img.ConfigFile(); err == nil || attempt == layerAttempts || !transient(err) || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if transient(err) {
			return nil, fmt.Errorf("reading image config: the connection dropped mid-transfer, %d times: %w", layerAttempts, err)
		}
		return nil, fmt.Errorf("reading image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	res := &Result{Platform: platformString(cfg)}
	if id, err := img.ConfigName(); err == nil {
		res.ImageID = id.String()
	}
	s.plan(layers, compressed)
	history := layerHistory(cfg, len(layers))
	for i, l := range layers {
		info := Layer{Number: i + 1, CreatedBy: history[i]}
		if d, err := l.DiffID(); err == nil {
			info.DiffID = d.String()
		}
		res.Layers = append(res.Layers, info)
	}

	parent := ctx
	var ls LayerScanner = walkScanner{s: s, engine: engine, budget: s.newBudget()}
	if s.opts.CacheDir != "" {
		ls = &cachingScanner{next: ls, dir: s.opts.CacheDir, key: s.cacheKey(engine), progress: s.opts.Progress, log: logger(s.opts.Logger)}
	}
	results := make([]*LayerResult, len(layers))
	errs := make([]error, len(layers))
	sem := make(chan struct{}, s.opts.Parallelism)
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A goroutine per layer, started only when a slot is free: a manifest
	// may list any number of layers.
launch:
	for i, l := range layers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			break launch
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i], errs[i] = ls.ScanLayer(ctx, l, LayerAt{Number: i + 1, Of: len(layers), Compressed: compressed})
			if errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return nil, err // interrupted: no partial result
	}
	// Report the first real failure, not the cancellations it caused.
	for _, e := range errs {
		if e != nil && !errors.Is(e, context.Canceled) {
			return nil, e
		}
	}
	for _, e := range errs {
		if e != nil {
			return nil, e
		}
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
	cw := s.newWalker(engine, 0, nil)
	cw.imageConfig(cfg)
	s.merge(res, engine, append(results, cw.result()))
	markDeleted(res.Findings, results)
	return res, nil
}

// LayerScanner scans one layer of an image. The walker implements it; a
// cache (and any other concern) wraps it.
type LayerScanner interface {
	ScanLayer(ctx context.Context, l v1.Layer, at LayerAt) (*LayerResult, error)
}

// LayerAt places a layer in its image and says how to read it.
type LayerAt struct {
	Number, Of int  // 1-based position, and the image's layer count
	Compressed bool // read the stored (compressed) blob; see storedCompressed
}

// LayerResult is what scanning one layer found: findings with their
// locations, the keystores to verify once every password is known, what
// could not be scanned or was dismissed, the layer's whiteouts, and what
// was read. It is what the layer cache stores.
type LayerResult struct {
	Findings   []Finding      `json:"findings,omitempty"`
	Keystores  []KeystoreFile `json:"keystores,omitempty"`
	Incomplete []Incomplete   `json:"incomplete,omitempty"`
	Dismissed  []Dismissed    `json:"dismissed,omitempty"`
	Whiteouts  []string       `json:"whiteouts,omitempty"`
	Opaque     []string       `json:"opaque,omitempty"`
	Stats      Stats          `json:"stats"`
	// Unread says the layer's stream failed before its first file.
	Unread bool `json:"unread,omitempty"`
}

// KeystoreFile is a keystore found in a layer, kept whole (keystores are
// bounded by rules.MaxKeystoreSize) to be verified after the walk.
type KeystoreFile struct {
	Path  []string `json:"path"`
	Layer int      `json:"layer"`
	Data  []byte   `json:"data"`
}

// walkScanner reads a layer with a walker. A blob stream that breaks off
// (a dropped connection) is read again from the start, a bounded number of
// times; a digest mismatch is final.
type walkScanner struct {
	s      *Scanner
	engine *rules.Engine
	budget *budget
}

func (ws walkScanner) ScanLayer(ctx context.Context, l v1.Layer, at LayerAt) (*LayerResult, error) {
	for attempt := 1; ; attempt++ {
		w := ws.s.newWalker(ws.engine, at.Number, ws.budget)
		err := w.layerTar(ctx, l, at.Of, at.Compressed)
		if err == nil {
			return w.result(), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrDigestMismatch) {
			return nil, err
		}
		if !at.Compressed {
			// A local layer that is truncated or corrupt: what was read
			// stands, and the rest is reported as not scanned.
			w.skip([]string{fmt.Sprintf("layer %d", at.Number)}, "%v; the rest of the layer was not read", err)
			res := w.result()
			res.Unread = w.stats.Files == 0
			return res, nil
		}
		if !transient(err) {
			return nil, err
		}
		if attempt == layerAttempts {
			return nil, fmt.Errorf("the connection dropped mid-transfer, %d times: %w", layerAttempts, err)
		}
	}
}

// result hands the walker's collections over as a LayerResult.
func (w *walker) result() *LayerResult {
	return &LayerResult{
		Findings: w.findings, Keystores: w.keystores, Incomplete: w.incomplete, Dismissed: w.dismissed,
		Whiteouts: w.whiteouts, Opaque: w.opaque, Stats: w.stats,
	}
}

// layerTar walks one layer's uncompressed tar stream. With compressed set
// it reads the layer's stored bytes and decompresses them itself (gzip and
// zstd by their magic, with klauspost/compress), then reads the stream to
// its end so that the source's digest check always runs.
func (w *walker) layerTar(ctx context.Context, l v1.Layer, layers int, compressed bool) error {
	var (
		rc    io.ReadCloser
		total int64 = -1
		err   error
	)
	if compressed {
		rc, err = l.Compressed()
		if size, serr := l.Size(); serr == nil {
			total = size
		}
	} else {
		rc, err = l.Uncompressed()
	}
	if err != nil {
		return w.layerError(err)
	}
	defer rc.Close()
	pulled := &countingReader{r: ctxReader{ctx: ctx, r: rc}, progress: w.opts.Progress, layer: w.layer, layers: layers, total: total}
	var stream io.Reader = pulled
	if compressed {
		d, closeD, err := decompress(pulled)
		if err != nil {
			return fmt.Errorf("reading layer %d: %w", w.layer, err)
		}
		defer closeD()
		stream = d
	}
	if compressed {
		stream = &inflated{out: stream, budget: w.budget, ratio: w.opts.MaxRatio, in: pulled}
	}
	cr := &countingReader{r: stream}
	tr := tar.NewReader(cr)
	w.stats.Layers = 1
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if cr.err != nil {
				err = cr.err
			}
			if errors.Is(err, errInflate) || errors.Is(err, errRatio) {
				w.skip([]string{fmt.Sprintf("layer %d", w.layer)}, "%v; the rest of the layer was not read", err)
				w.stats.Bytes = cr.n
				return nil
			}
			return w.layerError(err)
		}
		name := cleanPath(hdr.Name)
		dir, base := path.Split(name)
		switch {
		case base == ".wh..wh..opq":
			w.opaque = append(w.opaque, path.Clean(dir))
			continue
		case strings.HasPrefix(base, ".wh."):
			w.whiteouts = append(w.whiteouts, path.Join(dir, base[len(".wh."):]))
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := w.visit(ctx, []string{name}, hdr.Size, tr, nil, 0); err != nil {
			return err
		}
		if cr.err != nil {
			break
		}
	}
	if cr.err == nil {
		// Past the tar's end-of-archive marker: read the rest, so that a
		// verifying source compares the whole blob with its digest.
		if _, err := io.Copy(io.Discard, pulled); err != nil {
			cr.err = err
		}
	}
	if cr.err != nil {
		return w.layerError(cr.err)
	}
	w.stats.Bytes = cr.n
	pulled.report(true)
	return nil
}

// ctxReader stops a stream when the scan is cancelled (Ctrl-C), however
// large the file being read.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// layerError names the layer in a stream error, and tells a blob whose
// content does not match its digest (go-containerregistry's verifying
// reader says "error verifying sha256 checksum") from other failures.
func (w *walker) layerError(err error) error {
	if isTampered(err) {
		return fmt.Errorf("layer %d: %w: %s", w.layer, ErrDigestMismatch, oneLine(err.Error()))
	}
	return fmt.Errorf("reading layer %d: %w", w.layer, err)
}

// isTampered tells verification failures: peel's own for OCI archives
// (errBlobDigest), and go-containerregistry's, which it reports only as
// text: a digest that does not match ("error verifying sha256 checksum"),
// or a size that does not ("Content-Length header N does not match
// expected size M").
func isTampered(err error) bool {
	if errors.Is(err, errBlobDigest) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, "error verifying") && strings.Contains(msg, "checksum") ||
		strings.Contains(msg, "does not match expected size")
}

// decompress opens a stored layer by its magic bytes: gzip, zstd, or an
// uncompressed tar as is.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(4)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic[:2]):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// countingReader counts bytes and keeps the stream's first error, so that a
// broken layer is told apart from a malformed file inside it. With a
// Progress it reports every progressStep bytes.
type countingReader struct {
	r   io.Reader
	n   int64
	err error

	progress      Progress
	layer, layers int
	total         int64
	reported      int64
}

const progressStep = 1 << 20

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) && c.err == nil {
		c.err = err
	}
	if c.progress != nil && c.n-c.reported >= progressStep {
		c.report(false)
	}
	return n, err
}

func (c *countingReader) report(finished bool) {
	if c.progress != nil {
		c.reported = c.n
		c.progress.Layer(c.layer, c.layers, c.n, c.total, finished)
	}
}

// ScanPath scans a directory tree, or a single file (a jar, a keystore, a
// properties file). Symbolic links are not followed. Locations are the
// files' paths as reached from root, so they can be opened as printed.
func (s *Scanner) ScanPath(ctx context.Context, root string) (*Result, error) {
	engine, err := s.engine()
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(root)
	if err != nil {
		return nil, err
	}
	w := s.newWalker(engine, 0, s.newBudget())
	visitFile := func(p, name string) error {
		f, err := openNoWait(p) // a FIFO swapped in is opened, seen and skipped, not waited on
		if err != nil {
			w.skip([]string{name}, "opening: %v", err)
			return nil
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			return nil
		}
		w.stats.Bytes += st.Size()
		err = w.visit(ctx, []string{name}, st.Size(), f, f, 0)
		s.filesRead(w.stats.Files, w.stats.Bytes)
		return err
	}
	if !info.IsDir() {
		if err := visitFile(root, filepath.ToSlash(root)); err != nil {
			return nil, err
		}
	} else {
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				w.skip([]string{filepath.ToSlash(p)}, "%v", err)
				return nil
			}
			if d.IsDir() && p != root && s.opts.skip.dir(filepath.ToSlash(p)) {
				return filepath.SkipDir // --skip-dirs: not even listed
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if s.opts.skip.file([]string{filepath.ToSlash(p)}) {
				w.stats.Skipped++ // --skip-files: never opened
				return nil
			}
			return visitFile(p, filepath.ToSlash(p))
		})
		if err != nil {
			return nil, err
		}
	}
	res := &Result{}
	s.merge(res, engine, []*LayerResult{w.result()})
	return res, nil
}

// merge gathers the layers' results in layer order, verifies keystores
// against every password found, and sorts the findings.
func (s *Scanner) merge(res *Result, engine *rules.Engine, results []*LayerResult) {
	var files []KeystoreFile
	for _, r := range results {
		res.Findings = append(res.Findings, r.Findings...)
		res.Incomplete = append(res.Incomplete, r.Incomplete...)
		res.Dismissed = append(res.Dismissed, r.Dismissed...)
		res.Stats.add(r.Stats)
		files = append(files, r.Keystores...)
	}
	found, skipped, trustOnly := verifyKeystores(res.Findings, files)
	res.Findings = append(res.Findings, found...)
	res.Incomplete = append(res.Incomplete, skipped...)
	if s.opts.Explain {
		res.Dismissed = append(res.Dismissed, trustOnly...)
	}
	res.Rules = map[string]rules.Rule{}
	for _, f := range res.Findings {
		if r, ok := engine.Rule(f.RuleID); ok {
			res.Rules[f.RuleID] = r
		}
	}
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := &res.Findings[i], &res.Findings[j]
		if a.Layer != b.Layer {
			return a.Layer < b.Layer
		}
		if la, lb := strings.Join(a.Path, "!"), strings.Join(b.Path, "!"); la != lb {
			return la < lb
		}
		return a.Line < b.Line
	})
}

// verifyKeystores tries the passwords found in config (preferring, for each
// keystore, the passwords whose config names that keystore) and the default
// passwords on every keystore, and returns the keystore findings. Password
// findings that open a keystore are marked verified and list it in Opens.
func verifyKeystores(findings []Finding, files []KeystoreFile) ([]Finding, []Incomplete, []Dismissed) {
	var (
		out       []Finding
		skipped   []Incomplete
		trustOnly []Dismissed
	)
	// The passwords to try, once for all keystores; those whose config
	// names a keystore file are put first for that keystore.
	var all []rules.PasswordCandidate
	var naming []int // indexes into findings of passwords with keystore paths
	for i := range findings {
		f := &findings[i]
		if !passwordRules[f.RuleID] {
			continue
		}
		all = append(all, rules.PasswordCandidate{Password: f.Secret, Source: f.Location()})
		if len(f.Refers) > 0 {
			naming = append(naming, i)
		}
	}
	work := keystoreWork
	for _, kf := range files {
		ks, err := rules.InspectKeystore(kf.Data)
		if err != nil || ks == nil {
			continue // the walker reported it as incomplete
		}
		if work > 0 {
			// Each try hashes the whole store: the scan's tries share a
			// budget of bytes, so that many large stores and many
			// passwords cannot stall it.
			cands := all
			var preferred []rules.PasswordCandidate
			for _, i := range naming {
				if refersTo(findings[i].Refers, kf.Path) {
					preferred = append(preferred, rules.PasswordCandidate{Password: findings[i].Secret, Source: findings[i].Location()})
				}
			}
			if len(preferred) > 0 {
				cands = append(preferred, all...) // Open skips the repeats
			}
			tries := int(min(work/int64(max(len(kf.Data), 1)), 1<<20))
			if len(cands) > tries {
				skipped = append(skipped, Incomplete{Path: kf.Path, Layer: kf.Layer,
					Reason: fmt.Sprintf("%d of the passwords found were not tried on this keystore: the scan's keystore verification budget is used up", len(cands)-tries)})
				cands = cands[:tries]
			}
			work = max(0, work-int64(len(cands)+len(rules.DefaultPasswords))*int64(len(kf.Data)))
			ks.Open(cands)
		} else {
			skipped = append(skipped, Incomplete{Path: kf.Path, Layer: kf.Layer,
				Reason: "not verified: the scan's keystore verification budget is used up"})
		}
		if ks.Untried > 0 {
			skipped = append(skipped, Incomplete{Path: kf.Path, Layer: kf.Layer,
				Reason: fmt.Sprintf("%d password(s) not tried: the keystore's key-derivation cost used up its work budget", ks.Untried)})
		}
		rf, ok := rules.KeystoreFinding(ks)
		if !ok {
			reason := ks.Type.String() + " trust store: no private keys"
			if ks.Opened {
				reason += " (opens with the password from " + ks.Source + ")"
			}
			trustOnly = append(trustOnly, Dismissed{Path: kf.Path, Layer: kf.Layer, RuleID: rules.RuleKeystorePrivateKey, Reason: reason})
			continue
		}
		out = append(out, Finding{
			Finding:      rf,
			Path:         kf.Path,
			Layer:        kf.Layer,
			Verified:     ks.Opened,
			VerifiedBy:   ks.Source,
			KeystoreType: ks.Type.String(),
			Aliases:      ks.PrivateKeyAliases(),
		})
		if !ks.Opened {
			continue
		}
		for i := range findings {
			f := &findings[i]
			if passwordRules[f.RuleID] && f.Secret == ks.Password {
				f.Verified = true
				f.Severity = rules.SeverityCritical
				f.Opens = append(f.Opens, FormatLocation(kf.Path, 0))
			}
		}
	}
	return out, skipped, trustOnly
}

// keystoreWork bounds the bytes hashed verifying keystores in one scan.
var keystoreWork int64 = 8 << 30

// passwordRules are the rules whose secrets are tried on keystores.
var passwordRules = map[string]bool{
	rules.RuleConfigSecret: true, rules.RuleConfigSecretDefault: true, rules.RuleURLCredentials: true,
	rules.RuleBuildSecret: true, rules.RuleImageConfigSecret: true,
}

// refersTo reports whether one of a config file's keystore paths names the
// keystore at chain: an absolute path names the file in the layer; a
// relative or classpath: one names a member or file ending with it.
func refersTo(refs []string, chain []string) bool {
	for _, r := range refs {
		r = strings.TrimPrefix(strings.TrimPrefix(r, "file:"), "classpath:")
		if r == "" {
			continue
		}
		if strings.HasPrefix(r, "/") {
			if len(chain) == 1 && chain[0] == path.Clean(r) {
				return true
			}
			continue
		}
		last := "/" + chain[len(chain)-1]
		if strings.HasSuffix(last, "/"+strings.TrimPrefix(path.Clean(r), "./")) {
			return true
		}
	}
	return false
}

// markDeleted sets DeletedInLayer on findings whose file a later layer
// deletes with a whiteout (.wh.NAME) or hides under an opaque directory.
func markDeleted(findings []Finding, layers []*LayerResult) {
	for i := range findings {
		f := &findings[i]
		p := f.Path[0]
		if f.Layer == 0 || !strings.HasPrefix(p, "/") {
			continue
		}
		for j := f.Layer; j < len(layers); j++ {
			if layers[j].deletes(p) {
				f.DeletedInLayer = j + 1
				break
			}
		}
	}
}

func (r *LayerResult) deletes(p string) bool {
	for _, d := range r.Whiteouts {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	for _, d := range r.Opaque {
		if strings.HasPrefix(p, d+"/") || d == "/" {
			return true
		}
	}
	return false
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
