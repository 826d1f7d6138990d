package scanner

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/peelscan/peel/rules"
)

// Storage says how a layer's source keeps its bytes, and so how peel reads
// them: it is data the source attaches to its layers (StoredImage), not a
// property of the input's kind.
type Storage struct {
	// Stored reads the layer as its source keeps it (v1.Layer.Compressed)
	// and decompresses it by its magic bytes (gzip, zstd, or none) with
	// klauspost/compress; otherwise the layer is read through
	// Uncompressed. Either way the compression-ratio and total-inflate
	// limits apply to the stream.
	Stored bool
	// HasDigest says the layer's Digest and Size name its stored bytes
	// (they come from a manifest), so they are checked and identify it.
	HasDigest bool
	// DigestChecked says the source itself checks the stored bytes against
	// Digest as they are read (go-containerregistry's registry client, the
	// oci-archive reader), so peel does not hash them a second time.
	DigestChecked bool
	// Refetch says a stream that breaks off is worth reading again from
	// the start (a network source).
	Refetch bool
}

// storageOf returns what a layer's source says of its storage, or, for a
// layer from elsewhere, what its media type says: compressed media types
// are read as stored, others through Uncompressed.
func storageOf(l v1.Layer) Storage {
	if s, ok := l.(interface{ storage() Storage }); ok {
		return s.storage()
	}
	mt, err := l.MediaType()
	if err != nil {
		return Storage{}
	}
	switch mt {
	case types.DockerLayer, types.OCILayer, types.OCILayerZStd, types.DockerForeignLayer, types.OCIRestrictedLayer:
		return Storage{Stored: true}
	}
	return Storage{}
}

// StoredImage returns img with every layer carrying st: a caller that knows
// how its images' layers are kept (a registry client that verifies blobs,
// say) tells the scanner so. Images from Open carry it already.
func StoredImage(img v1.Image, st Storage) v1.Image { return storedImage{Image: img, st: st} }

type storedImage struct {
	v1.Image
	st Storage
}

func (i storedImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for j, l := range ls {
		out[j] = storedLayer{Layer: l, st: i.st}
	}
	return out, nil
}

type storedLayer struct {
	v1.Layer
	st Storage
}

func (l storedLayer) storage() Storage { return l.st }

// LayerScanner scans one layer of an image. The walker implements it; the
// layer cache wraps it.
type LayerScanner interface {
	ScanLayer(ctx context.Context, l v1.Layer, at LayerAt) (*LayerResult, error)
}

// LayerAt places a layer in its image and says what it must be: the
// identity its content is checked against as it is read, and how to read it.
type LayerAt struct {
	Number, Of int // 1-based position, and the image's layer count
	// DiffID is the config's diff_id for this position: the SHA-256 the
	// uncompressed content must have (zero: computed, not checked).
	DiffID v1.Hash
	// Digest and Size are the stored bytes' digest and size from the
	// manifest, when Storage.HasDigest (else zero and -1).
	Digest  v1.Hash
	Size    int64
	Storage Storage
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
	// Unread says the layer's tar broke before its first file.
	Unread bool `json:"unread,omitempty"`
	// Complete says the whole layer was read, its content matched its
	// identity (LayerAt.DiffID and Digest), and no scan-wide limit cut
	// it: only complete results are cached.
	Complete bool `json:"-"`
}

// KeystoreFile is a keystore found in a layer, kept whole (keystores are
// bounded by rules.MaxKeystoreSize) to be verified after the walk.
type KeystoreFile struct {
	Path  []string `json:"path"`
	Layer int      `json:"layer"`
	Data  []byte   `json:"data"`
}

// layerAttempts bounds how often a layer whose stream broke off is read.
const layerAttempts = 3

// walkScanner reads a layer with a walker. A network stream that breaks
// off is read again from the start, a bounded number of times; a digest
// mismatch is final.
type walkScanner struct {
	s      *Scanner
	engine *rules.Engine
	budget *budget
}

func (ws walkScanner) ScanLayer(ctx context.Context, l v1.Layer, at LayerAt) (*LayerResult, error) {
	for attempt := 1; ; attempt++ {
		w := ws.s.newWalker(ws.engine, at.Number, ws.budget)
		err := w.readLayer(ctx, l, at)
		if err == nil {
			return w.layerResult(), nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrDigestMismatch) || !at.Storage.Refetch || !transient(err) {
			return nil, err
		}
		if attempt == layerAttempts {
			return nil, fmt.Errorf("the connection dropped mid-transfer, %d times: %w", layerAttempts, err)
		}
	}
}

// readLayer opens a layer as its Storage says and walks it.
func (w *walker) readLayer(ctx context.Context, l v1.Layer, at LayerAt) error {
	open := l.Uncompressed
	if at.Storage.Stored {
		open = l.Compressed
	}
	rc, err := open()
	if err != nil {
		return w.layerError(err)
	}
	defer rc.Close()
	return w.layerStream(ctx, rc, at)
}

// layerState is what reading one layer's stream established.
type layerState struct {
	diffID, digest v1.Hash // computed: the uncompressed content's, the stored bytes'
	read           bool    // the stream was read to its end
	cut            bool    // a limit stopped the layer stream
	broken         bool    // the tar inside broke off (the stream itself was whole)
}

// layerStream reads one layer's bytes once: as stored (decompressed here,
// by magic) or uncompressed, as at.Storage says. The same stream feeds the
// tar walk, the SHA-256 of the uncompressed content (the DiffID) and, when
// the source does not check it, the SHA-256 of the stored bytes. The
// stream is read to its end, past the tar's end-of-archive marker, and
// then compared with at.DiffID and at.Digest: a mismatch is an error
// wrapping ErrDigestMismatch, and the walker's findings are not used.
func (w *walker) layerStream(ctx context.Context, r io.Reader, at LayerAt) error {
	total := int64(-1)
	if at.Storage.Stored && at.Size >= 0 && at.Storage.HasDigest {
		total = at.Size
	}
	if w.streamTotal > 0 {
		total = w.streamTotal
	}
	pulled := &countingReader{r: ctxReader{ctx: ctx, r: r}, progress: w.opts.Progress, layer: w.layer, layers: at.Of, total: total}
	var stored io.Reader = pulled
	var storedHash hash.Hash
	if at.Storage.Stored && (w.hashStored || at.Storage.HasDigest && !at.Storage.DigestChecked) {
		storedHash = sha256.New()
		stored = io.TeeReader(pulled, storedHash)
	}
	stream := stored
	var in *countingReader
	if at.Storage.Stored {
		d, closeD, err := decompress(stored)
		if err != nil {
			return w.layerError(err)
		}
		defer closeD()
		stream, in = d, pulled
	}
	diff := sha256.New()
	cr := &countingReader{r: io.TeeReader(&inflated{out: stream, budget: w.budget, ratio: w.opts.MaxRatio, in: in}, diff)}
	st := &w.state
	if err := w.walkLayerTar(ctx, cr); err != nil {
		return err
	}
	if cr.err == nil {
		// Past the tar's end-of-archive marker: the DiffID is the hash of
		// the whole uncompressed stream.
		_, _ = io.Copy(io.Discard, cr)
	}
	w.stats.Bytes = cr.n
	if cr.err != nil {
		if errors.Is(cr.err, errInflate) || errors.Is(cr.err, errRatio) {
			st.cut = true
			w.skip([]string{w.label()}, "%v; the rest of the layer was not read", cr.err)
			return nil
		}
		return w.streamError(at, cr.err)
	}
	if at.Storage.Stored {
		// Whatever follows the compressed stream is part of the blob.
		if _, err := io.Copy(io.Discard, stored); err != nil {
			return w.streamError(at, err)
		}
	}
	st.read = true
	st.diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(diff.Sum(nil))}
	if storedHash != nil {
		st.digest = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(storedHash.Sum(nil))}
	}
	pulled.report(true)
	return w.verifyLayer(at, pulled.n)
}

// streamError names the layer in an error of its stream. Where the source
// is local (not worth reading again), a stream that breaks off or does not
// decompress is a layer that does not match its diff_id: corrupt, refused.
func (w *walker) streamError(at LayerAt, err error) error {
	if at.Storage.Refetch || isTampered(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return w.layerError(err)
	}
	return fmt.Errorf("layer %d: %w: the stream breaks off: %s", w.layer, ErrDigestMismatch, oneLine(err.Error()))
}

// verifyLayer compares what was read with what the layer must be.
func (w *walker) verifyLayer(at LayerAt, storedBytes int64) error {
	st := &w.state
	if at.Storage.HasDigest && !at.Storage.DigestChecked && at.Storage.Stored {
		if at.Size >= 0 && storedBytes != at.Size {
			return fmt.Errorf("layer %d: %w: the blob holds %d bytes, the manifest says %d", w.layer, ErrDigestMismatch, storedBytes, at.Size)
		}
		if at.Digest.Hex != "" && st.digest != at.Digest {
			return fmt.Errorf("layer %d: %w: the blob is %s, the manifest says %s", w.layer, ErrDigestMismatch, st.digest, at.Digest)
		}
	}
	if at.DiffID.Hex != "" && st.diffID != at.DiffID {
		return fmt.Errorf("layer %d: %w: its uncompressed content is %s, the config's diff_id says %s", w.layer, ErrDigestMismatch, st.diffID, at.DiffID)
	}
	return nil
}

// walkLayerTar walks the regular files of a layer's tar, records its
// whiteouts, and follows its configuration-named links (links.go). A tar
// that breaks off (the stream below it being whole) keeps what was read
// and is reported; a stream error is left in cr.err.
func (w *walker) walkLayerTar(ctx context.Context, cr *countingReader) error {
	tr := tar.NewReader(cr)
	w.stats.Layers = 1
	w.follows = true
	defer w.unresolvedLinks()
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if cr.err == nil {
				w.state.broken = true
				w.skip([]string{w.label()}, "reading %s: %v; the rest of the layer was not read", w.label(), err)
			}
			return nil
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
		if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
			w.link(name, hdr)
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := w.visit(ctx, []string{name}, hdr.Size, tr, nil, 0); err != nil {
			return err
		}
		if cr.err != nil {
			return nil
		}
	}
}

// layerResult hands the walker's collections over as a LayerResult.
func (w *walker) layerResult() *LayerResult {
	res := w.result()
	st := w.state
	res.Unread = st.broken && w.stats.Files == 0
	res.Complete = st.read && !st.cut && !st.broken && w.budget.left.Load() >= 0
	return res
}

// label names the layer in Incomplete paths.
func (w *walker) label() string {
	if w.layerName != "" {
		return w.layerName
	}
	return fmt.Sprintf("layer %d", w.layer)
}

// ErrDigestMismatch is wrapped in the error for a layer or blob whose
// content does not match its digest, its size or the config's diff_id:
// tampered with or corrupt, and refused.
var ErrDigestMismatch = errors.New("content does not match its digest or size (tampered or corrupt); refused")

// transient reports stream failures worth reading the layer again for.
func transient(err error) bool {
	if errors.Is(err, ErrDigestMismatch) || isTampered(err) {
		return false
	}
	return transientNet(err)
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
	if errors.Is(err, errBlobDigest) || errors.Is(err, ErrDigestMismatch) {
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
