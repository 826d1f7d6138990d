package scanner

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// isTar reports a POSIX or GNU tar header: "ustar" at offset 257.
func isTar(head []byte) bool {
	return len(head) >= 263 && bytes.Equal(head[257:262], []byte("ustar"))
}

// tarArchive visits the regular files of a tar nested in a layer or an
// archive, as members of chain.
func (w *walker) tarArchive(ctx context.Context, chain []string, r io.Reader, depth int) error {
	if depth >= w.opts.MaxDepth {
		w.skip(chain, "archive nested %d deep is past the depth limit (--max-depth %d)", depth+1, w.opts.MaxDepth)
		return nil
	}
	w.stats.Archives++
	tr := tar.NewReader(r)
	child := append(clone(chain), "")
	for entries := 0; ; entries++ {
		if entries == w.opts.MaxEntries {
			w.skip(chain, "more than %d entries (--max-entries): the rest were not read", w.opts.MaxEntries)
			return nil
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			switch {
			case errors.Is(err, errLimit):
				w.skip(chain, "decompressed size is over the %d-byte limit (--max-archive-size)", w.opts.MaxArchiveSize)
			case errors.Is(err, errInflate), errors.Is(err, errRatio):
				w.skip(chain, "%v", err)
			default:
				w.skip(chain, "unreadable tar: %v", err)
			}
			return nil
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		child[len(child)-1] = strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if err := w.visit(ctx, child, hdr.Size, tr, nil, depth+1); err != nil {
			return err
		}
	}
}

// compressed opens a gzip or zstd stream: a compressed tar is walked as a
// tar; any other payload is buffered and visited as the single file inside,
// named by the gzip header or by the outer name less its suffix. The
// decompressed size is bounded by MaxArchiveSize.
func (w *walker) compressed(ctx context.Context, chain []string, r io.Reader, depth int, format string) error {
	if depth >= w.opts.MaxDepth {
		w.skip(chain, "archive nested %d deep is past the depth limit (--max-depth %d)", depth+1, w.opts.MaxDepth)
		return nil
	}
	var (
		dr    io.Reader
		inner string
	)
	cin := &countingReader{r: r}
	r = cin
	switch format {
	case "gzip":
		zr, err := gzip.NewReader(r)
		if err != nil {
			w.skip(chain, "unreadable gzip: %v", err)
			return nil
		}
		defer zr.Close()
		zr.Multistream(true)
		dr, inner = zr, path.Base(zr.Name)
	default:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			w.skip(chain, "unreadable zstd: %v", err)
			return nil
		}
		defer zr.Close()
		dr = zr
	}
	lr := &limitReader{r: &inflated{out: dr, budget: w.budget, ratio: w.opts.MaxRatio, in: cin}, left: w.opts.MaxArchiveSize}
	br := bufio.NewReaderSize(lr, headSize)
	head, err := br.Peek(headSize)
	if err != nil && !errors.Is(err, io.EOF) {
		w.skip(chain, "unreadable %s: %v", format, err)
		return nil
	}
	if isTar(head) {
		return w.tarArchive(ctx, chain, br, depth)
	}
	w.stats.Archives++
	if inner == "" || inner == "." || inner == "/" {
		inner = path.Base(chain[len(chain)-1])
		for _, ext := range []string{".gz", ".gzip", ".zst", ".zstd", ".tgz"} {
			inner = strings.TrimSuffix(inner, ext)
		}
	}
	buf, release, n, err := w.bufferUnknown(br)
	if err != nil {
		if errors.Is(err, errInflate) || errors.Is(err, errRatio) {
			w.skip(chain, "%v", err)
			return nil
		}
		if errors.Is(err, errLimit) {
			w.skip(chain, "decompressed size is over the %d-byte limit (--max-archive-size)", w.opts.MaxArchiveSize)
		} else {
			w.skip(chain, "unreadable %s: %v", format, err)
		}
		return nil
	}
	defer release()
	sr := io.NewSectionReader(buf, 0, n)
	return w.visit(ctx, append(clone(chain), inner), n, sr, sr, depth+1)
}

// bufferUnknown buffers a stream of unknown length as buffer does.
func (w *walker) bufferUnknown(r io.Reader) (io.ReaderAt, func(), int64, error) {
	head, err := readAll(io.LimitReader(r, w.opts.MemoryBuffer+1), nil, w.opts.MemoryBuffer+1, w.opts.MemoryBuffer+1)
	if err != nil {
		return nil, nil, 0, err
	}
	if int64(len(head)) <= w.opts.MemoryBuffer {
		return bytes.NewReader(head), func() {}, int64(len(head)), nil
	}
	rest := io.MultiReader(bytes.NewReader(head), r)
	// Past the memory bound the size is unknown up front: let buffer spill
	// and count what it copies.
	cr := &countingReader{r: rest}
	ra, release, err := w.buffer(cr, -1)
	if err != nil {
		return nil, nil, 0, err
	}
	return ra, release, cr.n, nil
}

// errInflate and errRatio mark streams stopped by the total-inflate and
// the compression-ratio limits.
var (
	errInflate = errors.New("the scan's decompressed bytes are over --max-total-inflate")
	errRatio   = errors.New("compression ratio is over --max-ratio")
)

// budget is the scan-wide allowance of decompressed bytes.
type budget struct {
	left atomic.Int64
}

// inflated counts decompressed bytes against the scan's budget and the
// stream's compression ratio: in is the compressed side (nil when not
// known), out the decompressed stream.
type inflated struct {
	out    io.Reader
	in     *countingReader
	budget *budget
	ratio  int64
	n      int64
	err    error
}

func (f *inflated) Read(p []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	n, err := f.out.Read(p)
	f.n += int64(n)
	if f.budget != nil && f.budget.left.Add(-int64(n)) < 0 {
		f.err = errInflate
		return n, f.err
	}
	if f.in != nil && f.n > ratioFloor && f.in.n > 0 && f.n/f.in.n > f.ratio {
		f.err = fmt.Errorf("%w (%d:1 after %d MiB)", errRatio, f.n/f.in.n, f.n>>20)
		return n, f.err
	}
	return n, err
}

// limitReader fails with errLimit once more than left bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errLimit
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errLimit
	}
	return n, err
}
