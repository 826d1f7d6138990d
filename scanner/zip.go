package scanner

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
)

var (
	zipLocalMagic = []byte("PK\x03\x04")
	zipEmptyMagic = []byte("PK\x05\x06")
)

// zipFormat is a zip: jar, war, ear, or any other.
type zipFormat struct{}

func (zipFormat) name() string { return "archive" }

func (zipFormat) sniff(_ *walker, _ *entry, head []byte) bool {
	return bytes.HasPrefix(head, zipLocalMagic) || bytes.HasPrefix(head, zipEmptyMagic)
}

func (zipFormat) walk(ctx context.Context, w *walker, e *entry, yield func(*entry) error) error {
	return walkZip(ctx, w, e, yield, true)
}

// launchJarFormat is an executable jar: a launch script (Spring Boot's is
// about 10 KiB) in front of the zip. A file that only looks like one is
// left alone.
type launchJarFormat struct{}

func (launchJarFormat) name() string { return "archive" }

func (launchJarFormat) sniff(w *walker, e *entry, head []byte) bool {
	if !bytes.HasPrefix(head, []byte("#!")) || e.size <= headSize {
		return false
	}
	window, err := e.peek(w, launchWindow)
	return err == nil && bytes.Contains(window, zipLocalMagic)
}

func (launchJarFormat) walk(ctx context.Context, w *walker, e *entry, yield func(*entry) error) error {
	return walkZip(ctx, w, e, yield, false)
}

// walkZip opens a zip, buffering it first unless it can be read in place,
// and hands out its members: stored ones as sections of the archive,
// compressed ones through the pooled inflater. strict says the file starts
// like a zip, so failing to open it is worth reporting.
func walkZip(ctx context.Context, w *walker, e *entry, yield func(*entry) error, strict bool) error {
	ra := e.ra
	if ra == nil {
		if e.size > w.opts.MaxArchiveSize {
			w.skip(e.chain, "archive of %d bytes is over the %d-byte limit (--max-archive-size)", e.size, w.opts.MaxArchiveSize)
			return errNotArchive
		}
		buf, release, err := w.buffer(e.r, e.size)
		if err != nil {
			w.skip(e.chain, "buffering archive: %v", err)
			return errNotArchive
		}
		defer release()
		ra = buf
	}
	// archive/zip finds the central directory from the end-of-central-
	// directory record, and accounts for data prepended to the zip; it
	// reads every record into memory at once, so it is handed at most
	// MaxEntries of them (see limitZip).
	ra, size, cut := limitZip(ra, e.size, w.opts.MaxEntries)
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		if strict {
			return err
		}
		return errNotArchive
	}
	zr.RegisterDecompressor(zip.Deflate, inflate)
	for _, zf := range zr.File {
		if zf.Mode().IsDir() || len(zf.Name) > 0 && zf.Name[len(zf.Name)-1] == '/' {
			continue
		}
		if err := zipMember(ctx, w, e, zf, ra, yield); err != nil {
			return err
		}
	}
	if cut {
		w.skip(e.chain, "more than %d entries (--max-entries): the rest were not read", w.opts.MaxEntries)
	}
	return nil
}

// zipMember hands out one zip member: a stored member is read in place
// through a section of the enclosing archive, a compressed one through the
// inflater; a compressed .class member is counted and not inflated.
func zipMember(ctx context.Context, w *walker, e *entry, zf *zip.File, ra io.ReaderAt, yield func(*entry) error) error {
	size := int64(zf.UncompressedSize64)
	chain := append(clone(e.chain), zf.Name)
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
		return yield(member(e, zf.Name, size, sr, sr))
	}
	if isClassFile(zf.Name) {
		// Compiled classes are most of a jar's members and bytes, and are
		// binary, which peel does not scan for text: inflating one only to
		// read its 0xCAFEBABE costs more than the rest of the jar's scan
		// (stored members above cost nothing and are still sniffed).
		m := member(e, zf.Name, size, nil, nil)
		m.skipped = true
		return yield(m)
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
	return yield(member(e, zf.Name, size, w.inflate(rc, in), nil))
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
