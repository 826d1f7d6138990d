// Package atomicfile writes files so that readers see the old content or
// the whole new content, never a part: the data goes to a temp file beside
// the target, which is renamed over it only once complete.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Pending is a file written but not yet in place.
type Pending struct {
	tmp, path string
}

// Prepare writes the content to a temp file in path's directory, readable
// by all (0644) once in place.
func Prepare(path string, write func(io.Writer) error) (*Pending, error) {
	return PrepareMode(path, 0o644, write)
}

// PrepareMode is Prepare with the file's permissions.
func PrepareMode(path string, mode os.FileMode, write func(io.Writer) error) (*Pending, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return &Pending{tmp: f.Name(), path: path}, nil
}

// Commit renames the temp file over the target.
func (p *Pending) Commit() error {
	if err := os.Rename(p.tmp, p.path); err != nil {
		os.Remove(p.tmp)
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	return nil
}

// Discard removes the temp file.
func (p *Pending) Discard() { os.Remove(p.tmp) }
