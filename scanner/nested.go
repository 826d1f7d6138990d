package scanner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

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
