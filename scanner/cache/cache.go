// Package cache is the filesystem store of peel's layer cache: one file per
// entry under a private directory, written atomically. It implements
// scanner.LayerCache; the scanner derives the keys and encodes the values.
package cache

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/peelscan/peel/internal/atomicfile"
)

// Dir is a layer cache in a directory. The directory and its entries are
// private (0700, 0600): the entries hold the secrets found.
type Dir struct {
	root string
}

// New returns the cache kept in root, created on first Put.
func New(root string) *Dir { return &Dir{root: root} }

// errKey refuses a key that is not a lowercase hex digest, so that no key
// can name a file outside the directory.
var errKey = errors.New("cache key is not a hex digest")

func (d *Dir) path(key string) (string, error) {
	if len(key) < 16 {
		return "", errKey
	}
	for _, c := range key {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return "", errKey
		}
	}
	return filepath.Join(d.root, key[:2], key), nil
}

// Get implements scanner.LayerCache.
func (d *Dir) Get(_ context.Context, key string) ([]byte, bool, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// Put implements scanner.LayerCache.
func (d *Dir) Put(_ context.Context, key string, value []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(d.root, 0o700); err != nil {
		return err
	}
	f, err := atomicfile.PrepareMode(p, 0o600, func(w io.Writer) error { _, err := w.Write(value); return err })
	if err != nil {
		return err
	}
	return f.Commit()
}
