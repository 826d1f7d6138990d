package scanner

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b, 0x08}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// zstdMaxWindow bounds the memory a zstd stream's window may claim.
const zstdMaxWindow = 64 << 20

// gzipFormat is a gzip stream: a .tar.gz (walked as the tar inside) or a
// single compressed file.
type gzipFormat struct{}

func (gzipFormat) name() string { return "gzip" }

func (gzipFormat) sniff(_ *walker, _ *entry, head []byte) bool {
	return bytes.HasPrefix(head, gzipMagic)
}

func (gzipFormat) walk(ctx context.Context, w *walker, e *entry, yield func(*entry) error) error {
	in := &countingReader{r: e.r}
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	defer zr.Close()
	zr.Multistream(true)
	return walkCompressed(w, e, w.inflate(zr, in), path.Base(zr.Name), yield)
}

// zstdFormat is a zstd stream: a .tar.zst or a single compressed file.
type zstdFormat struct{}

func (zstdFormat) name() string { return "zstd" }

func (zstdFormat) sniff(_ *walker, _ *entry, head []byte) bool {
	return bytes.HasPrefix(head, zstdMagic)
}

func (zstdFormat) walk(ctx context.Context, w *walker, e *entry, yield func(*entry) error) error {
	in := &countingReader{r: e.r}
	zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(zstdMaxWindow))
	if err != nil {
		return err
	}
	defer zr.Close()
	return walkCompressed(w, e, w.inflate(zr, in), "", yield)
}

// walkCompressed hands out what a decompressed stream holds: the members
// of a tar, or the single file, named inner (the gzip header's name) or by
// the outer name less its suffix, buffered to be read in place. The
// decompressed size is bounded by MaxArchiveSize.
func walkCompressed(w *walker, e *entry, r io.Reader, inner string, yield func(*entry) error) error {
	br := bufio.NewReaderSize(&limitReader{r: r, left: w.opts.MaxArchiveSize}, headSize)
	head, err := br.Peek(headSize)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if isTar(head) {
		return walkTar(e, br, yield)
	}
	if inner == "" || inner == "." || inner == "/" {
		inner = path.Base(e.chain[len(e.chain)-1])
		for _, ext := range []string{".gz", ".gzip", ".zst", ".zstd", ".tgz"} {
			inner = strings.TrimSuffix(inner, ext)
		}
	}
	buf, release, n, err := w.bufferUnknown(br)
	if err != nil {
		return err
	}
	defer release()
	sr := io.NewSectionReader(buf, 0, n)
	return yield(member(e, inner, n, sr, sr))
}
