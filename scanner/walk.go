package scanner

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"

	"github.com/peelscan/peel/rules"
)

// headSize is how many leading bytes decide what a file is; launchWindow is
// how far into a file starting with "#!" a zip may begin (Spring Boot's
// launch script is about 10 KiB).
const (
	headSize     = 512
	launchWindow = 64 << 10
)

var (
	zipLocalMagic = []byte("PK\x03\x04")
	zipEmptyMagic = []byte("PK\x05\x06")
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

	findings   []Finding
	keystores  []KeystoreFile
	dismissed  []Dismissed // kept only with Options.Explain
	whiteouts  []string    // paths a whiteout in this layer deletes
	opaque     []string    // directories this layer marks opaque
	incomplete []Incomplete
	stats      Stats
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
	switch {
	case bytes.HasPrefix(head, zipLocalMagic) || bytes.HasPrefix(head, zipEmptyMagic):
		return w.archive(ctx, chain, size, r, ra, depth, true)
	case bytes.HasPrefix(head, []byte("#!")) && size > headSize:
		// An executable jar: a launch script in front of the zip.
		window, err := w.head(br, ra, size, launchWindow)
		if err == nil && bytes.Contains(window, zipLocalMagic) {
			return w.archive(ctx, chain, size, r, ra, depth, false)
		}
	case rules.SniffKeystore(head) != rules.NotKeystore:
		w.keystore(chain, size, r, ra)
		return nil
	case bytes.HasPrefix(head, gzipMagic):
		return w.compressed(ctx, chain, r, depth, "gzip")
	case bytes.HasPrefix(head, zstdMagic):
		return w.compressed(ctx, chain, r, depth, "zstd")
	case isTar(head):
		return w.tarArchive(ctx, chain, r, depth)
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
	n := size
	if size > w.opts.MaxFileSize {
		n = w.opts.MaxFileSize
		w.skip(chain, "only the first %d bytes of this %d-byte file were scanned (--max-file-size)", n, size)
	}
	bufp := textBufs.get()
	data, err := readText(*bufp, r, ra, n)
	// The rules keep no reference to the text (findings hold copies).
	defer func() { textBufs.put(bufp, data) }()
	if err != nil {
		w.skip(chain, "reading: %v", err)
		return
	}
	res := w.engine.ScanFile(chain[len(chain)-1], data)
	found := len(w.findings)
	for _, f := range res.Findings {
		f := Finding{Finding: f, Path: clone(chain), Layer: w.layer}
		if reason := dependencyTest(chain); reason != "" && !w.opts.IncludeDependencyTests {
			w.dismiss(chain, f.Line, f.RuleID, f.Key, reason)
			continue
		}
		w.findings = append(w.findings, f)
	}
	attachExcerpts(data, w.findings[found:]) // while the text is in memory
	for _, d := range res.Dismissed {
		w.dismiss(chain, d.Line, d.RuleID, d.Key, d.Reason)
	}
	if res.Err != nil {
		w.dismiss(chain, 0, "", "", res.Err.Error()+"; the text rules still ran")
	}
}

func (w *walker) dismiss(chain []string, line int, ruleID, key, reason string) {
	if !w.opts.Explain {
		return
	}
	w.dismissed = append(w.dismissed, Dismissed{Path: clone(chain), Line: line, Layer: w.layer, RuleID: ruleID, Key: key, Reason: reason})
}

func (w *walker) keystore(chain []string, size int64, r io.Reader, ra io.ReaderAt) {
	if size > rules.MaxKeystoreSize {
		w.skip(chain, "keystore of %d bytes is over the %d-byte limit", size, rules.MaxKeystoreSize)
		return
	}
	data, err := readAll(r, ra, size, rules.MaxKeystoreSize)
	if err != nil {
		w.skip(chain, "reading keystore: %v", err)
		return
	}
	if _, err := rules.InspectKeystore(data); err != nil {
		w.skip(chain, "%v", err)
		return
	}
	w.keystores = append(w.keystores, KeystoreFile{Path: clone(chain), Layer: w.layer, Data: data})
}

// archive opens a zip (jar, war, ear, or an executable jar behind a launch
// script) and visits its members. strict says the file starts like a zip,
// so failing to open it is worth reporting.
func (w *walker) archive(ctx context.Context, chain []string, size int64, r io.Reader, ra io.ReaderAt, depth int, strict bool) error {
	if depth >= w.opts.MaxDepth {
		w.skip(chain, "archive nested %d deep is past the depth limit (--max-depth %d)", depth+1, w.opts.MaxDepth)
		return nil
	}
	if ra == nil {
		if size > w.opts.MaxArchiveSize {
			w.skip(chain, "archive of %d bytes is over the %d-byte limit (--max-archive-size)", size, w.opts.MaxArchiveSize)
			return nil
		}
		buf, release, err := w.buffer(r, size)
		if err != nil {
			w.skip(chain, "buffering archive: %v", err)
			return nil
		}
		defer release()
		ra = buf
	}
	// archive/zip finds the central directory from the end-of-central-
	// directory record, and accounts for data prepended to the zip.
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		if strict {
			w.skip(chain, "unreadable archive: %v", err)
		}
		return nil
	}
	zr.RegisterDecompressor(zip.Deflate, inflate)
	w.stats.Archives++
	child := append(clone(chain), "")
	for i, zf := range zr.File {
		if i == w.opts.MaxEntries {
			w.skip(chain, "more than %d entries (--max-entries): the rest were not read", w.opts.MaxEntries)
			break
		}
		if zf.Mode().IsDir() || len(zf.Name) > 0 && zf.Name[len(zf.Name)-1] == '/' {
			continue
		}
		child[len(child)-1] = zf.Name
		if err := w.member(ctx, child, zf, ra, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// member visits one zip member: stored members are read in place through a
// section of the enclosing archive, compressed ones through the inflater.
func (w *walker) member(ctx context.Context, chain []string, zf *zip.File, ra io.ReaderAt, depth int) error {
	size := int64(zf.UncompressedSize64)
	if size < 0 {
		w.skip(chain, "member size %d is out of range", zf.UncompressedSize64)
		return nil
	}
	if zf.Method == zip.Store && zf.CompressedSize64 == zf.UncompressedSize64 {
		off, err := zf.DataOffset()
		if err != nil {
			w.skip(chain, "locating member: %v", err)
			return nil
		}
		sr := io.NewSectionReader(ra, off, size)
		return w.visit(ctx, chain, size, sr, sr, depth)
	}
	if isClassFile(zf.Name) {
		// Compiled classes are most of a jar's members and bytes, and are
		// binary, which peel does not scan for text: inflating one only to
		// read its 0xCAFEBABE costs more than the rest of the jar's scan
		// (stored members above cost nothing and are still sniffed).
		w.stats.Files++
		return nil
	}
	// Sizes come from the central directory, which may lie: the ratio is
	// checked on what the member declares and again on what it inflates to.
	if c := int64(zf.CompressedSize64); size > ratioFloor && (c == 0 || size/max(c, 1) > w.opts.MaxRatio) {
		w.skip(chain, "member declares a compression ratio of %d:1, over --max-ratio %d", size/max(c, 1), w.opts.MaxRatio)
		return nil
	}
	rc, err := zf.Open()
	if err != nil {
		w.skip(chain, "opening member: %v", err)
		return nil
	}
	defer rc.Close()
	in := &countingReader{n: int64(zf.CompressedSize64)}
	err = w.visit(ctx, chain, size, &inflated{out: rc, budget: w.budget, ratio: w.opts.MaxRatio, in: in}, nil, depth)
	return err
}

// isClassFile reports a compiled Java class by its member name, as the
// JVM's class loaders find them.
func isClassFile(name string) bool { return strings.HasSuffix(name, ".class") }

// inflaters are reused across zip members: a jar holds thousands, and a
// fresh inflater per member allocates its window each time. It is
// klauspost/compress's flate, faster than the standard library's.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(nil) }}

// inflate is the zip Deflate decompressor, from the pool.
func inflate(r io.Reader) io.ReadCloser {
	fr := inflaters.Get().(io.ReadCloser)
	if err := fr.(flate.Resetter).Reset(r, nil); err != nil {
		return flate.NewReader(r)
	}
	return &pooledInflater{ReadCloser: fr}
}

type pooledInflater struct {
	io.ReadCloser
	done bool
}

func (p *pooledInflater) Close() error {
	if p.done {
		return nil
	}
	p.done = true
	err := p.ReadCloser.Close()
	inflaters.Put(p.ReadCloser)
	return err
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
