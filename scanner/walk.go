package scanner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"

	"github.com/peelscan/peel/rules"
)

// headSize is how many leading bytes decide what a file is; launchWindow is
// how far into a file starting with "#!" a zip may begin (Spring Boot's
// launch script is about 10 KiB).
const (
	headSize     = 512
	launchWindow = 64 << 10
)

var peekPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, launchWindow) }}

// errLimit marks a read stopped by a size limit.
var errLimit = errors.New("size limit exceeded")

// walker scans the files of one layer (or one directory tree) and collects
// what it finds; the image-level passes (whiteouts, keystore verification)
// run over the walkers' results afterwards.
type walker struct {
	opts   Options
	engine *rules.Engine
	layer  int
	budget *budget // the scan's decompression allowance

	// For the layer stream: what reading it established, the label of
	// the layer in Incomplete paths when its number is not known yet (an
	// archive streamed in one pass), whether to hash the stored bytes
	// whatever the layer's Storage says, and the stream's size if known.
	state       layerState
	layerName   string
	hashStored  bool
	streamTotal int64

	findings   []Finding
	keystores  []KeystoreFile
	dismissed  []Dismissed // kept only with Options.Explain
	whiteouts  []string    // paths a whiteout in this layer deletes
	opaque     []string    // directories this layer marks opaque
	incomplete []Incomplete
	stats      Stats

	// links follows the layer's configuration-named links (links.go);
	// nil outside layers, and until the layer has a link or a text file
	// one may need.
	links   *layerLinks
	follows bool      // the walk is a layer's, whose links are followed
	oneName [1]string // see format
}

func (w *walker) skip(chain []string, format string, args ...any) {
	w.incomplete = append(w.incomplete, Incomplete{Path: clone(chain), Layer: w.layer, Reason: fmt.Sprintf(format, args...)})
}

func clone(s []string) []string { return append([]string(nil), s...) }

// visit scans one file of size bytes, read from r; ra, when not nil, reads
// the same bytes in place (a stored zip member, a file on disk). depth is
// the number of archives the file sits in.
func (w *walker) visit(ctx context.Context, chain []string, size int64, r io.Reader, ra io.ReaderAt, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if w.opts.skip.file(chain) {
		w.stats.Skipped++
		return nil
	}
	w.stats.Files++
	var br *bufio.Reader
	if ra == nil {
		br = peekPool.Get().(*bufio.Reader)
		br.Reset(r)
		defer func() { br.Reset(nil); peekPool.Put(br) }()
		r = br
	}
	head, err := w.head(br, ra, size, headSize)
	if err != nil {
		w.skip(chain, "reading: %v", err)
		return nil
	}
	if w.engine.Wants(head) {
		w.keep(chain, head, size, r, ra)
		return nil
	}
	e := &entry{chain: chain, size: size, r: r, ra: ra, br: br, depth: depth}
	for _, f := range archiveFormats {
		if f.sniff(w, e, head) {
			return w.openArchive(ctx, f, e)
		}
	}
	if rules.IsText(head) {
		w.text(chain, size, r, ra)
	}
	return nil
}

// head returns the first n bytes of the file (fewer if it is shorter)
// without consuming them.
func (w *walker) head(br *bufio.Reader, ra io.ReaderAt, size int64, n int) ([]byte, error) {
	n = int(min(int64(n), size))
	if ra != nil {
		buf := make([]byte, n)
		m, err := ra.ReadAt(buf, 0)
		if err != nil && !(errors.Is(err, io.EOF) && m == n) {
			return buf[:m], err
		}
		return buf, nil
	}
	b, err := br.Peek(n)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return b, err
}

// text runs the rules engine over a text file. A file over MaxFileSize is
// scanned up to the limit, and the cut is reported.
func (w *walker) text(chain []string, size int64, r io.Reader, ra io.ReaderAt) {
	data, bufp, ok := w.readTextFile(chain, size, r, ra)
	if !ok {
		return
	}
	// The rules keep no reference to the text (findings hold copies).
	defer textBufs.put(bufp, data)
	w.record(chain, data, w.engine.Scan(&rules.File{Path: chain, Data: data}, rules.ScanOptions{IncludeDependencyTests: w.opts.IncludeDependencyTests}))
	if w.follows && len(chain) == 1 {
		w.linkTarget(chain[0], data)
	}
}

// readTextFile reads a text file into a buffer of textBufs, up to
// MaxFileSize (the cut is reported); the caller puts the buffer back
// (textBufs.put(bufp, data)). ok is false when the file could not be read
// (reported).
func (w *walker) readTextFile(chain []string, size int64, r io.Reader, ra io.ReaderAt) (data []byte, bufp *[]byte, ok bool) {
	n := size
	if size > w.opts.MaxFileSize {
		n = w.opts.MaxFileSize
		w.skip(chain, "only the first %d bytes of this %d-byte file were scanned (--max-file-size)", n, size)
	}
	bufp = textBufs.get()
	data, err := readText(*bufp, r, ra, n)
	if err != nil {
		textBufs.put(bufp, data)
		w.skip(chain, "reading: %v", err)
		return nil, nil, false
	}
	return data, bufp, true
}

// record keeps what the rules made of one file, data (the excerpts of its
// findings are taken while it is in memory).
func (w *walker) record(chain []string, data []byte, res rules.Result) {
	found := len(w.findings)
	for _, f := range res.Findings {
		w.findings = append(w.findings, Finding{Finding: f, Path: clone(chain), Layer: w.layer})
	}
	attachExcerpts(data, w.findings[found:]) // while the text is in memory
	for _, d := range res.Dismissed {
		w.dismiss(chain, d.Line, d.RuleID, d.Key, d.Reason)
	}
	// A part the structured detectors could not read (a document that
	// does not parse) is a gap in the scan, reported as such.
	for _, in := range res.Incomplete {
		w.skip(chain, "%s", in.Reason)
	}
}

func (w *walker) dismiss(chain []string, line int, ruleID, key, reason string) {
	if !w.opts.Explain {
		return
	}
	w.dismissed = append(w.dismissed, Dismissed{Path: clone(chain), Line: line, Layer: w.layer, RuleID: ruleID, Key: key, Reason: reason})
}

// keep reads whole a file a verifier wants (a keystore, by its magic
// bytes), for the image-level verification after the walk.
func (w *walker) keep(chain []string, head []byte, size int64, r io.Reader, ra io.ReaderAt) {
	data, err := w.engine.Keep(head, size, func(max int64) ([]byte, error) { return readAll(r, ra, size, max) })
	if err != nil {
		w.skip(chain, "%v", err)
		return
	}
	w.keystores = append(w.keystores, KeystoreFile{Path: clone(chain), Layer: w.layer, Data: data})
}

// buffer makes a stream of size bytes (-1: unknown, spill at once)
// randomly readable: in memory up to MemoryBuffer, in an unlinked temp file
// beyond.
func (w *walker) buffer(r io.Reader, size int64) (io.ReaderAt, func(), error) {
	if size >= 0 && size <= w.opts.MemoryBuffer {
		bufp := archiveBufs.get()
		data, err := readInto(*bufp, r, size, w.opts.MemoryBuffer)
		// Members are read out of the archive (copied) or scanned in place
		// before release: nothing refers to it afterwards.
		release := func() { archiveBufs.put(bufp, data) }
		if err != nil {
			release()
			return nil, nil, err
		}
		return bytes.NewReader(data), release, nil
	}
	f, err := os.CreateTemp(w.opts.TempDir, "peel-spill-*")
	if err != nil {
		return nil, nil, err
	}
	// Unlink at once: the open descriptor keeps the data, and nothing is
	// left behind whatever happens to the process.
	_ = os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(r, w.opts.MaxArchiveSize+1))
	if err == nil && n > w.opts.MaxArchiveSize {
		err = errLimit
	}
	if err == nil && size >= 0 && n != size {
		err = fmt.Errorf("read %d bytes, expected %d", n, size)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// bufPool recycles the buffers files and archives are read into, so that
// scanning thousands of them does not allocate (and clear) a buffer for
// each; buffers over max are left to the collector.
type bufPool struct {
	pool sync.Pool
	max  int
}

func (p *bufPool) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	return new([]byte)
}

// put returns the buffer bp held, now grown to b, to the pool.
func (p *bufPool) put(bp *[]byte, b []byte) {
	if cap(b) <= p.max {
		*bp = b[:0]
		p.pool.Put(bp)
	}
}

var (
	textBufs    = &bufPool{max: 4 << 20}
	archiveBufs = &bufPool{max: 16 << 20}
)

// readText reads the first n bytes of a file into dst (grown if need be):
// through ra when not nil (a short read is an error), else from r, where
// an early end of the stream only makes the text shorter.
func readText(dst []byte, r io.Reader, ra io.ReaderAt, n int64) ([]byte, error) {
	if int64(cap(dst)) < n {
		dst = make([]byte, n)
	}
	dst = dst[:n]
	if ra != nil {
		m, err := ra.ReadAt(dst, 0)
		if int64(m) == n {
			return dst, nil
		}
		return dst[:0], err
	}
	m := 0
	for m < len(dst) {
		k, err := r.Read(dst[m:])
		m += k
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return dst[:0], err
		}
	}
	return dst[:m], nil
}

// readAll reads a whole file of the given size, refusing more than max.
func readAll(r io.Reader, ra io.ReaderAt, size, max int64) ([]byte, error) {
	if size > max {
		return nil, errLimit
	}
	if ra != nil {
		buf := make([]byte, size)
		n, err := ra.ReadAt(buf, 0)
		if int64(n) == size {
			return buf, nil
		}
		return nil, err
	}
	return readInto(nil, r, size, max)
}

// readInto reads a stream of the given size (what it announces) into dst's
// storage (replaced if too small), refusing more than max; the result may
// be shorter or longer than size, as the stream is.
func readInto(dst []byte, r io.Reader, size, max int64) ([]byte, error) {
	// Room for the read that finds the end, so that a stream of the size
	// announced is read without growing (and copying) the buffer.
	if int64(cap(dst)) < size+bytes.MinRead {
		dst = make([]byte, 0, size+bytes.MinRead)
	}
	buf := bytes.NewBuffer(dst[:0])
	n, err := io.Copy(buf, io.LimitReader(r, max+1))
	if err != nil {
		return buf.Bytes()[:0], err
	}
	if n > max {
		return buf.Bytes()[:0], errLimit
	}
	return buf.Bytes(), nil
}

// cleanPath turns a tar or directory entry name into an absolute, clean
// path: "./opt/keystore.jks" and "opt/keystore.jks" are "/opt/keystore.jks".
func cleanPath(name string) string { return path.Clean("/" + name) }
