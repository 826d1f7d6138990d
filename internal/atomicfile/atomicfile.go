// Package atomicfile writes files so that readers see the old content or
// the whole new content, never a part: the data goes to a temp file beside
// the target, which is renamed over it only once complete. That is done
// for regular files only. A path that exists and is something else (a
// character device such as /dev/null, a FIFO, a terminal, /dev/stdout) is
// never replaced: the content is written into it, once it is complete.
package atomicfile

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Pending is a file written but not yet in place.
type Pending struct {
	path string // the target, as given
	// For a regular file: the temp file and where it is renamed to (the
	// target, or the regular file a symbolic link names).
	tmp, dest string
	// For any other file: the content, written in place by Commit.
	data []byte
	fifo bool
}

// Prepare writes the content for path. A new file gets the umask's
// permissions; a file replaced keeps its own.
func Prepare(path string, write func(io.Writer) error) (*Pending, error) {
	return prepare(path, write, func(existing fs.FileMode, exists bool) (fs.FileMode, bool) {
		if !exists {
			return 0o666, false
		}
		return existing, true
	})
}

// PreparePrivate is Prepare for content that must be readable by its
// owner alone (unredacted secrets): permissions 0600 at most, whatever the
// umask or the file replaced allowed.
func PreparePrivate(path string, write func(io.Writer) error) (*Pending, error) {
	return prepare(path, write, func(existing fs.FileMode, exists bool) (fs.FileMode, bool) {
		if !exists {
			return 0o600, false
		}
		return existing & 0o600, true
	})
}

// PrepareMode is Prepare with the file's permissions set to mode.
func PrepareMode(path string, mode os.FileMode, write func(io.Writer) error) (*Pending, error) {
	return prepare(path, write, func(fs.FileMode, bool) (fs.FileMode, bool) { return mode, true })
}

// prepare renders the content. perm gives, from the permissions of the
// file replaced (if any), those of the new one and whether they are set
// exactly (else they are created with, less the umask).
func prepare(path string, write func(io.Writer) error, perm func(existing fs.FileMode, exists bool) (fs.FileMode, bool)) (*Pending, error) {
	dest, info, err := resolve(path)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if info != nil && !info.Mode().IsRegular() {
		// Written in place: held until every report rendered.
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		return &Pending{path: path, data: buf.Bytes(), fifo: info.Mode()&fs.ModeNamedPipe != 0}, nil
	}
	var existing fs.FileMode
	if info != nil {
		existing = info.Mode().Perm()
	}
	mode, exact := perm(existing, info != nil)
	f, err := createTemp(dest, mode)
	if err != nil {
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	sw := &stickyWriter{w: f}
	err = write(sw)
	if err == nil {
		err = sw.err // a write error the writer did not return
	}
	if err == nil && exact {
		err = f.Chmod(mode)
	}
	if err == nil && info != nil {
		keepOwner(f, info)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return &Pending{path: path, tmp: f.Name(), dest: dest}, nil
}

// Check reports, before any content is rendered, why path could not be
// written: its directory does not exist or takes no new file, or it is a
// directory, a block device or a socket. A new file is tried beside the
// target and removed at once.
func Check(path string) error {
	dest, info, err := resolve(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if info != nil && !info.Mode().IsRegular() {
		return nil // written in place
	}
	f, err := createTemp(dest, 0o600)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temp file's name says nothing to the user
		}
		dir := filepath.Dir(dest)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: no such directory %s", path, dir)
		}
		return fmt.Errorf("%s: cannot create a file in %s: %w", path, dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// resolve says where the content of path goes: for a regular file or a
// path that does not exist, the file to replace (a symbolic link is
// followed, so that the link stays a link), with info nil when it does not
// exist yet; for anything else, its info, to be written in place. A
// directory, a block device and a socket are refused. A link into /proc
// (/dev/stdout, /dev/fd/N) names an open file, not a path: it is written
// in place, whatever it leads to.
func resolve(path string) (string, fs.FileInfo, error) {
	cur := path
	for hops := 0; ; hops++ {
		info, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return cur, nil, nil
		}
		if err != nil {
			return "", nil, err
		}
		mode := info.Mode()
		switch {
		case mode.IsRegular():
			return cur, info, nil
		case mode&fs.ModeSymlink != 0:
			if hops == 40 {
				return "", nil, errors.New("too many levels of symbolic links")
			}
			link, err := os.Readlink(cur)
			if err != nil {
				return "", nil, err
			}
			if !filepath.IsAbs(link) {
				link = filepath.Join(filepath.Dir(cur), link)
			}
			if strings.HasPrefix(link, "/proc/") || strings.HasPrefix(link, "/dev/fd/") {
				info, err := os.Stat(path)
				if err != nil {
					return "", nil, err
				}
				if info.Mode().IsRegular() {
					info = inPlaceRegular{info}
				}
				return path, info, check(info)
			}
			cur = link
		default:
			return cur, info, check(info)
		}
	}
}

// inPlaceRegular is a regular file reached through /proc: written in
// place like a device, not replaced.
type inPlaceRegular struct{ fs.FileInfo }

func (i inPlaceRegular) Mode() fs.FileMode { return i.FileInfo.Mode() | fs.ModeIrregular }

func check(info fs.FileInfo) error {
	switch m := info.Mode(); {
	case m.IsDir():
		return errors.New("is a directory")
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		return errors.New("is a block device: a report is never written onto one")
	case m&fs.ModeSocket != 0:
		return errors.New("is a socket")
	}
	return nil
}

// createTemp makes a new file beside dest, with perm less the umask.
func createTemp(dest string, perm fs.FileMode) (*os.File, error) {
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	for range 100 {
		var rnd [6]byte
		rand.Read(rnd[:])
		f, err := os.OpenFile(filepath.Join(dir, "."+base+".tmp-"+hex.EncodeToString(rnd[:])), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, errors.New("no free temp file name")
}

// keepOwner gives the new file the replaced one's owner and group, where
// peel may (as root); elsewhere they are peel's, as for any new file.
func keepOwner(f *os.File, info fs.FileInfo) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		f.Chown(int(st.Uid), int(st.Gid))
	}
}

// Commit puts the file in place.
func (p *Pending) Commit() error { return p.CommitContext(context.Background()) }

// CommitContext puts the file in place: renames the temp file over its
// target, or writes the content into the file that is not regular. A FIFO
// is waited on until a reader opens it, or ctx ends.
func (p *Pending) CommitContext(ctx context.Context) error {
	if p.tmp != "" {
		if err := os.Rename(p.tmp, p.dest); err != nil {
			os.Remove(p.tmp)
			return fmt.Errorf("writing %s: %w", p.path, err)
		}
		return nil
	}
	if err := p.writeInPlace(ctx); err != nil {
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	return nil
}

func (p *Pending) writeInPlace(ctx context.Context) error {
	flags := os.O_WRONLY
	if p.fifo {
		// Opened without waiting: with no reader yet it fails (ENXIO), and
		// is tried again until one comes or ctx ends.
		flags |= syscall.O_NONBLOCK
	}
	var f *os.File
	for {
		var err error
		f, err = os.OpenFile(p.path, flags, 0)
		if err == nil {
			break
		}
		if !p.fifo || !errors.Is(err, syscall.ENXIO) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no reader opened the FIFO: %w", context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
	defer f.Close()
	if p.fifo {
		// A reader that stops reading must not hold the write forever.
		stop := context.AfterFunc(ctx, func() { f.SetWriteDeadline(time.Now()) })
		defer stop()
	}
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		if err := f.Truncate(0); err != nil {
			return err
		}
	}
	_, err := f.Write(p.data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// stickyWriter keeps the first write error, and writes nothing after it.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.w.Write(p)
	s.err = err
	return n, err
}

// Discard removes the temp file.
func (p *Pending) Discard() {
	if p.tmp != "" {
		os.Remove(p.tmp)
	}
}
