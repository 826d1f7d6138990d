package scanner

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
)

// isTar reports a POSIX or GNU tar header: "ustar" at offset 257.
func isTar(head []byte) bool {
	return len(head) >= 263 && bytes.Equal(head[257:262], []byte("ustar"))
}

// tarFormat is a tar nested in a layer or an archive (layers themselves
// are walked by walkLayerTar, which also reads their whiteouts).
type tarFormat struct{}

func (tarFormat) name() string { return "tar" }

func (tarFormat) sniff(_ *walker, _ *entry, head []byte) bool { return isTar(head) }

func (tarFormat) walk(ctx context.Context, w *walker, e *entry, yield func(*entry) error) error {
	return walkTar(e, e.r, yield)
}

// walkTar hands out the regular files of the tar read from r as members
// of e, named relative to the tar's root.
func walkTar(e *entry, r io.Reader, yield func(*entry) error) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if limitError(err) {
				return err
			}
			return formatError{"tar", err}
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		if err := yield(member(e, cleanEntry(hdr.Name), hdr.Size, tr, nil)); err != nil {
			return err
		}
	}
}
