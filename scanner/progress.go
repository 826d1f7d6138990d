package scanner

import (
	"log/slog"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DetailedProgress is a Progress that wants to be told more than how far
// each layer has been read, so that it can show totals from the start.
// The scanner calls its methods when Options.Progress implements it.
type DetailedProgress interface {
	Progress
	// Plan is called once per image, before any of its layers is read,
	// with each layer's size as Layer will count it (-1 when it is not
	// known up front).
	Plan(sizes []int64)
	// Cached says a layer's result came from the layer cache: it is not
	// read, and Layer is not called for it.
	Cached(layer, layers int)
	// Files is called as a dir: scan goes, with the files and bytes read
	// so far.
	Files(files int, bytes int64)
}

// plan tells a DetailedProgress the sizes of an image's layers, as the
// layer stream counts them: a layer read as stored has the size its
// manifest gives, or else its source (a docker-archive's tar entry); one
// read uncompressed is not known before it is read.
func (s *Scanner) plan(layers []v1.Layer, at []LayerAt) {
	p, ok := s.opts.Progress.(DetailedProgress)
	if !ok {
		return
	}
	sizes := make([]int64, len(at))
	for i, a := range at {
		sizes[i] = -1
		switch {
		case !a.Storage.Stored:
		case a.Storage.HasDigest && a.Size >= 0:
			sizes[i] = a.Size
		case !a.Storage.HasDigest:
			if n, err := layers[i].Size(); err == nil && n >= 0 {
				sizes[i] = n
			}
		}
	}
	p.Plan(sizes)
}

func (s *Scanner) filesRead(files int, bytes int64) {
	if p, ok := s.opts.Progress.(DetailedProgress); ok {
		p.Files(files, bytes)
	}
}

// discard is the logger of a scan given none.
var discard = slog.New(slog.DiscardHandler)

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return discard
	}
	return l
}
