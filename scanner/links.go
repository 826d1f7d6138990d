package scanner

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/peelscan/peel/rules"
)

// Links named like configuration files.
//
// An application that reads /app/application.properties, a link to
// /etc/app/conf.v3, reads Java properties, though the file's own name calls
// for no format. A layer's tar holds a link as an entry of its own: a
// symlink names its target (relative to the link's directory, or
// absolute), a hard link an entry of the same tar. The target may come
// after the link in the stream or before it (a hard link's always does),
// or sit in another layer. Within these bounds, a link whose name calls for
// another format than its target's name does is read with that format too,
// under the link's name (rules.Engine.ScanFormat: the detectors that read
// every file read the target under its own name):
//
//   - a target later in the same layer is read under the link's name when
//     it is read (at most maxWaitingLinks links wait in a layer);
//   - a target earlier in the same layer is read from a cache of the
//     layer's most recent small text files that no format reads (each up
//     to linkCacheFile bytes, linkCacheBytes in all);
//   - anything else is reported as not read under the link's name: a
//     target in another layer, one read too long before the link, one that
//     is no text file, a link to a link, a target reached through a linked
//     directory.
//
// What a layer reports depends on that layer alone, as the layer cache
// needs. In a directory (dir:), a link whose target resolves to a regular
// file inside the scanned directory is read the same way; a link that
// leads out of it is not followed.
const (
	maxWaitingLinks = 4096
	linkCacheFile   = 64 << 10
	linkCacheBytes  = 1 << 20
)

// layerLinks follows one layer's configuration-named links.
type layerLinks struct {
	// waiting maps a target path to the links that wait for it, with the
	// format each calls for.
	waiting map[string][]waitingLink
	n       int // links waiting
	recent  textCache
}

type waitingLink struct{ name, format string }

// link handles a link entry of a layer's tar. A link that only restates
// its target's format, or calls for none, costs a name check.
func (w *walker) link(name string, hdr *tar.Header) {
	format := w.format(name)
	if format == "" {
		return
	}
	if w.opts.skip.file([]string{name}) {
		w.stats.Skipped++ // --skip-files: the link's name is skipped
		return
	}
	target := hdr.Linkname
	if hdr.Typeflag == tar.TypeSymlink && !path.IsAbs(target) {
		target = path.Join(path.Dir(name), target)
	}
	target = cleanPath(target)
	if w.format(target) == format || target == name {
		return // read as that format under its own name already
	}
	ls := w.links
	if ls == nil {
		ls = &layerLinks{}
		w.links = ls
	}
	if data, ok := ls.recent.get(target); ok {
		w.readLinked(name, format, data)
		return
	}
	if ls.n == maxWaitingLinks {
		w.skip([]string{name}, "a link to %s: not read as %s (more than %d such links in the layer)", target, format, maxWaitingLinks)
		return
	}
	if ls.waiting == nil {
		ls.waiting = map[string][]waitingLink{}
	}
	ls.waiting[target] = append(ls.waiting[target], waitingLink{name, format})
	ls.n++
}

// linkTarget handles a text file of the layer (data as read, up to
// MaxFileSize) for the links: links waiting for it read it under their
// names; a small file no format reads is kept for links that come later.
func (w *walker) linkTarget(name string, data []byte) {
	ls := w.links
	if ls != nil && ls.n > 0 {
		if waiting, ok := ls.waiting[name]; ok {
			delete(ls.waiting, name)
			ls.n -= len(waiting)
			for _, l := range waiting {
				w.readLinked(l.name, l.format, data)
			}
			return
		}
	}
	if len(data) > linkCacheFile || w.format(name) != "" {
		return
	}
	if ls == nil {
		ls = &layerLinks{}
		w.links = ls
	}
	ls.recent.put(name, data)
}

// format is the format a file of the layer named name calls for.
func (w *walker) format(name string) string {
	w.oneName[0] = name // a chain of one, without allocating one per file
	f := w.engine.Format(w.oneName[:])
	w.oneName[0] = ""
	return f
}

// readLinked reads a link's target as the format the link's name calls for.
func (w *walker) readLinked(name, format string, data []byte) {
	chain := []string{name}
	w.record(chain, data, w.engine.ScanFormat(&rules.File{Path: chain, Data: data}, rules.ScanOptions{IncludeDependencyTests: w.opts.IncludeDependencyTests}))
}

// unresolvedLinks reports, once the layer is read, the links whose target
// it did not find.
func (w *walker) unresolvedLinks() {
	if w.links == nil {
		return
	}
	defer func() { w.links.recent.release(); w.links = nil }()
	if w.links.n == 0 {
		return
	}
	var names []string
	byName := map[string]string{}
	for target, ls := range w.links.waiting {
		for _, l := range ls {
			names = append(names, l.name)
			byName[l.name] = fmt.Sprintf("a link to %s: not read as %s (no text file of that path follows it in this layer, nor is one among the last %d KiB of small text files before it; it may be in another layer)",
				target, l.format, linkCacheBytes>>10)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		w.skip([]string{n}, "%s", byName[n])
	}
}

// dirLink handles a symlink met in a directory scan: p on disk, named name.
func (w *walker) dirLink(root, p, name string) error {
	format := w.engine.Format([]string{name})
	if format == "" {
		return nil
	}
	if w.opts.skip.file([]string{name}) {
		w.stats.Skipped++ // --skip-files: the link's name is skipped
		return nil
	}
	target, err := filepath.EvalSymlinks(p)
	if err == nil {
		target, err = filepath.Abs(target)
	}
	if err != nil {
		w.skip([]string{name}, "a link: not read as %s (%v)", format, err)
		return nil
	}
	if rel, err := filepath.Rel(root, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		w.skip([]string{name}, "a link to %s, outside the scanned directory: not followed", filepath.ToSlash(target))
		return nil
	}
	if w.engine.Format([]string{filepath.ToSlash(target)}) == format {
		return nil // read as that format under its own name already
	}
	f, err := openNoWait(target)
	if err != nil {
		w.skip([]string{name}, "a link to %s: not read as %s (%v)", filepath.ToSlash(target), format, err)
		return nil
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	head := make([]byte, min(st.Size(), headSize))
	if _, err := f.ReadAt(head, 0); err != nil || !rules.IsText(head) {
		return nil
	}
	data, bufp, ok := w.readTextFile([]string{name}, st.Size(), f, f)
	if !ok {
		return nil
	}
	defer textBufs.put(bufp, data)
	w.readLinked(name, format, data)
	return nil
}

// textCache keeps copies of the most recent small text files of a layer
// in a ring of linkCacheBytes: a new file overwrites the oldest. The ring
// comes from a pool and goes back to it with the layer (release), so that
// the files of a layer cost one copy each and no allocation.
type textCache struct {
	ring  []byte
	at    int          // where the next file is written
	files []cachedText // oldest first, from head
	head  int
}

type cachedText struct {
	name   string
	off, n int
}

var textRings = sync.Pool{New: func() any { b := make([]byte, linkCacheBytes); return &b }}

func (c *textCache) put(name string, data []byte) {
	n := len(data)
	if n > linkCacheFile {
		return
	}
	if c.ring == nil {
		c.ring = *textRings.Get().(*[]byte)
	}
	if c.at+n > len(c.ring) {
		// Wrap, leaving the end of the ring unused: the files of the lap
		// before that are still there, past the write position, are the
		// oldest, and go.
		for c.head < len(c.files) && c.files[c.head].off >= c.at {
			c.files[c.head] = cachedText{}
			c.head++
		}
		c.at = 0
	}
	// Drop the oldest files while the new one would overwrite them: they
	// lie right ahead of the write position.
	for c.head < len(c.files) {
		f := c.files[c.head]
		if f.off+f.n <= c.at || f.off >= c.at+n {
			break
		}
		c.files[c.head] = cachedText{}
		c.head++
	}
	if c.head > 0 && c.head == len(c.files) {
		c.files, c.head = c.files[:0], 0
	} else if c.head > 1024 {
		c.files, c.head = append(c.files[:0], c.files[c.head:]...), 0
	}
	copy(c.ring[c.at:], data)
	c.files = append(c.files, cachedText{name: name, off: c.at, n: n})
	c.at += n
}

// get returns the last file of that name kept; the bytes are the ring's,
// valid until the next put.
func (c *textCache) get(name string) ([]byte, bool) {
	for i := len(c.files) - 1; i >= c.head; i-- {
		if f := c.files[i]; f.name == name {
			return c.ring[f.off : f.off+f.n], true
		}
	}
	return nil, false
}

// release returns the ring to the pool.
func (c *textCache) release() {
	if ring := c.ring; ring != nil {
		textRings.Put(&ring)
	}
	*c = textCache{}
}

// isDirLink reports a directory entry that is a symlink.
func isDirLink(d fs.DirEntry) bool { return d.Type()&os.ModeSymlink != 0 }
