// Package cache stores peel's layer cache (scanner.LayerCache): Dir keeps
// one file per entry in a private directory, written atomically, and
// Sealed wraps any store (Dir, or a shared one) so that what it keeps is
// encrypted and authenticated under a Key held outside it. The scanner
// derives the keys and encodes the values; this package knows nothing of
// either.
package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/peelscan/peel/internal/atomicfile"
	"github.com/peelscan/peel/internal/privdir"
)

// Store keeps opaque values by key, as scanner.LayerCache does.
type Store interface {
	// Get returns the value stored under key, and whether there is one.
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Put stores value under key, replacing any earlier value.
	Put(ctx context.Context, key string, value []byte) error
}

// Dir is a store in a directory. The directory and its entries are private
// (0700, 0600).
type Dir struct {
	root string
}

var _ Store = (*Dir)(nil)

// layoutFile marks a directory whose entries this version of the store
// wrote; a directory of entries without it was written by an earlier peel,
// which stored layer results in plaintext.
const (
	layoutFile    = "peel-cache-layout"
	layoutVersion = "2 sealed entries\n"
)

// cacheDirTag tells backup and archiving tools that honour the Cache
// Directory Tagging Specification (tar --exclude-caches, borg, restic) to
// leave the directory out.
const cacheDirTag = "Signature: 8a477f597d28d172789f06886806bc55\n# This file marks peel's layer cache; see https://bford.info/cachedir/\n"

// Open returns the store kept in root, creating root (0700) if need be. A
// root another user owns, or that others may write, is refused
// (privdir.ErrNotPrivate): its entries could be swapped or planted. The
// entries of a directory an earlier peel wrote, in plaintext, are removed.
func Open(root string) (*Dir, error) {
	if err := privdir.Ensure(root); err != nil {
		return nil, err
	}
	d := &Dir{root: root}
	b, err := os.ReadFile(filepath.Join(root, layoutFile))
	if err == nil && string(b) == layoutVersion {
		return d, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := d.removeEntries(); err != nil {
		return nil, fmt.Errorf("removing the entries of an earlier layout from %s: %w", root, err)
	}
	for name, content := range map[string]string{"CACHEDIR.TAG": cacheDirTag, layoutFile: layoutVersion} {
		if err := writeFile(filepath.Join(root, name), []byte(content)); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// removeEntries removes the files the store's layout names (root/xx/KEY,
// KEY a hex digest starting with xx), and nothing else.
func (d *Dir) removeEntries() error {
	dirs, err := os.ReadDir(d.root)
	if err != nil {
		return err
	}
	for _, sub := range dirs {
		if !sub.IsDir() || len(sub.Name()) != 2 || !isHex(sub.Name()) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(d.root, sub.Name()))
		if err != nil {
			return err
		}
		for _, f := range files {
			if n := f.Name(); f.Type().IsRegular() && len(n) >= 16 && isHex(n) && n[:2] == sub.Name() {
				if err := os.Remove(filepath.Join(d.root, sub.Name(), n)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// errKey refuses a key that is not a lowercase hex digest, so that no key
// can name a file outside the directory.
var errKey = errors.New("cache key is not a hex digest")

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (d *Dir) path(key string) (string, error) {
	if len(key) < 16 || !isHex(key) {
		return "", errKey
	}
	return filepath.Join(d.root, key[:2], key), nil
}

// Get implements Store.
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

// Put implements Store.
func (d *Dir) Put(_ context.Context, key string, value []byte) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	return writeFile(p, value)
}

// writeFile writes a private file atomically.
func writeFile(p string, value []byte) error {
	f, err := atomicfile.PrepareMode(p, 0o600, func(w io.Writer) error { _, err := w.Write(value); return err })
	if err != nil {
		return err
	}
	return f.Commit()
}
