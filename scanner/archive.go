package scanner

import (
	"bufio"
	"context"
	"errors"
	"io"
)

// Archive formats (zip, tar, gzip, zstd) are one small type each behind
// archiveFormat: a format recognizes its files by their first bytes and
// hands out their members; openArchive, the one place members are handed
// out, enforces the depth and entry limits, counts the archive, and turns
// a limit that trips (total inflate, ratio, archive size) into an
// Incomplete. Decompressing readers come from walker.inflate, which holds
// the ratio and total-inflate checks.

// entry is one file reached in a layer, a directory or an archive.
type entry struct {
	chain []string      // location chain: the file, then members inside it
	size  int64         // bytes, as its container declares them
	r     io.Reader     // its bytes, read once
	ra    io.ReaderAt   // the same bytes in place, or nil
	br    *bufio.Reader // r when ra is nil, for peeking
	depth int           // archives the file sits in
	// skipped marks a member reached but not read (a compressed .class):
	// it counts as a file, and is not opened.
	skipped bool
}

// peek returns the entry's first n bytes (fewer if it is shorter) without
// consuming them.
func (e *entry) peek(w *walker, n int) ([]byte, error) { return w.head(e.br, e.ra, e.size, n) }

// archiveFormat is one archive or compression format.
type archiveFormat interface {
	// name is the format in messages: "unreadable NAME: …".
	name() string
	// sniff tells the format's files by their first headSize bytes (or,
	// through e.peek, more).
	sniff(w *walker, e *entry, head []byte) bool
	// walk hands each member of e to yield, which scans it; it returns
	// yield's error (a cancelled scan) as is. It returns errNotArchive if
	// e turns out not to be of the format after all, and reports what is
	// specific to the format (a member it cannot read) with w.skip.
	walk(ctx context.Context, w *walker, e *entry, yield func(*entry) error) error
}

// archiveFormats are tried in order on every file that is not a keystore.
var archiveFormats = []archiveFormat{zipFormat{}, launchJarFormat{}, gzipFormat{}, zstdFormat{}, tarFormat{}}

var (
	// errNotArchive is a file that sniffed like an archive and is not one.
	errNotArchive = errors.New("not an archive")
	// errEntries stops a walk at --max-entries.
	errEntries = errors.New("too many entries")
)

// openArchive walks an archive's members with every limit applied once:
// depth, entries, and the translation of the limits that stop a stream.
func (w *walker) openArchive(ctx context.Context, f archiveFormat, e *entry) error {
	if e.depth >= w.opts.MaxDepth {
		w.skip(e.chain, "archive nested %d deep is past the depth limit (--max-depth %d)", e.depth+1, w.opts.MaxDepth)
		return nil
	}
	entries := 0
	counted := false
	err := f.walk(ctx, w, e, func(m *entry) error {
		if !counted {
			counted = true
			w.stats.Archives++
		}
		if entries == w.opts.MaxEntries {
			w.skip(e.chain, "more than %d entries (--max-entries): the rest were not read", w.opts.MaxEntries)
			return errEntries
		}
		entries++
		m.depth = e.depth + 1
		return w.visitEntry(ctx, m)
	})
	if err == nil && !counted {
		w.stats.Archives++ // an archive with no members
	}
	switch {
	case err == nil, errors.Is(err, errEntries), errors.Is(err, errNotArchive):
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errLimit):
		w.skip(e.chain, "decompressed size is over the %d-byte limit (--max-archive-size)", w.opts.MaxArchiveSize)
	case errors.Is(err, errInflate), errors.Is(err, errRatio):
		w.skip(e.chain, "%v", err)
	default:
		name := f.name()
		var fe formatError
		if errors.As(err, &fe) {
			name, err = fe.format, fe.err
		}
		w.skip(e.chain, "unreadable %s: %v", name, err)
	}
	return nil
}

// formatError is a failure of a format nested in another (the tar inside
// a gzip), named after it.
type formatError struct {
	format string
	err    error
}

func (e formatError) Error() string { return e.format + ": " + e.err.Error() }
func (e formatError) Unwrap() error { return e.err }

// limitError tells the errors openArchive reports as limits.
func limitError(err error) bool {
	return errors.Is(err, errLimit) || errors.Is(err, errInflate) || errors.Is(err, errRatio)
}

// inflate wraps a decompressing reader in the scan's total-inflate budget
// and the compression-ratio check against in, its compressed side (nil
// when not known).
func (w *walker) inflate(out io.Reader, in *countingReader) io.Reader {
	return &inflated{out: out, budget: w.budget, ratio: w.opts.MaxRatio, in: in}
}

// member makes a child entry of e.
func member(e *entry, name string, size int64, r io.Reader, ra io.ReaderAt) *entry {
	return &entry{chain: append(clone(e.chain), name), size: size, r: r, ra: ra}
}

// visitEntry scans one entry; see visit.
func (w *walker) visitEntry(ctx context.Context, e *entry) error {
	if e.skipped {
		w.stats.Files++
		return nil
	}
	return w.visit(ctx, e.chain, e.size, e.r, e.ra, e.depth)
}
