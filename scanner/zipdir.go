package scanner

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
)

// archive/zip's NewReader reads every record of a zip's central directory
// into memory before it returns (about 300 bytes each: 2 million members
// cost 600 MiB), however many the end record declares; it reads records
// from the directory's start until one does not parse, and compares only
// the low 16 bits of the count. So the records are counted here first, as
// archive/zip will find them, and when there are more than the walk may
// open, or not as many as the end record says (archive/zip preallocates by
// the declared count), archive/zip is handed a view of the zip that ends
// after the records to be read, with end records of its own that say so.
//
// The directory is located as archive/zip locates it (readDirectoryEnd in
// its reader.go), so that both agree on where the records start.

const (
	zipDirEndLen       = 22
	zipDir64LocLen     = 20
	zipDir64EndLen     = 56
	zipDirHeaderLen    = 46
	zipDirEndSig       = 0x06054b50
	zipDir64LocSig     = 0x07064b50
	zipDir64EndSig     = 0x06064b50
	zipDirHeaderSig    = 0x02014b50
	zipMaxCommentBlock = 65 * 1024
)

// zipDirectory is where a zip's central directory is, as archive/zip sees
// it.
type zipDirectory struct {
	declared uint64 // the record count the end record declares
	start    int64  // offset of the first record in the file
	base     int64  // offset of the zip's start (data prepended: a launch script)
}

// findZipDirectory locates the central directory as archive/zip does; an
// error is a zip archive/zip refuses too.
func findZipDirectory(r io.ReaderAt, size int64) (*zipDirectory, error) {
	var (
		buf    []byte
		endOff int64
	)
	for i, n := range []int64{1024, zipMaxCommentBlock} {
		n = min(n, size)
		buf = make([]byte, n)
		if _, err := r.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		if p := findZipEndSignature(buf); p >= 0 {
			buf, endOff = buf[p:], size-n+int64(p)
			break
		}
		if i == 1 || n == size {
			return nil, errNotArchive
		}
	}
	le := binary.LittleEndian
	records, dirSize, dirOff := uint64(le.Uint16(buf[10:])), uint64(le.Uint32(buf[12:])), uint64(le.Uint32(buf[16:]))
	if int(le.Uint16(buf[20:])) > len(buf)-zipDirEndLen {
		return nil, errNotArchive // archive/zip: invalid comment length
	}
	if records == 0xffff || dirSize == 0xffff || dirOff == 0xffffffff {
		if p, ok := findZip64End(r, endOff); ok {
			b := make([]byte, zipDir64EndLen)
			if _, err := r.ReadAt(b, p); err != nil {
				return nil, err
			}
			if le.Uint32(b) != zipDir64EndSig {
				return nil, errNotArchive
			}
			endOff = p
			records, dirSize, dirOff = le.Uint64(b[32:]), le.Uint64(b[40:]), le.Uint64(b[48:])
		}
	}
	if dirSize > 1<<63-1 || dirOff > 1<<63-1 {
		return nil, errNotArchive
	}
	base := endOff - int64(dirSize) - int64(dirOff)
	if o := base + int64(dirOff); o < 0 || o >= size {
		return nil, errNotArchive
	}
	// archive/zip takes a base of 0 when a record starts where the end
	// record says, counted from the file's start.
	if base > 0 && zipRecordAt(r, int64(dirOff), size) {
		base = 0
	}
	return &zipDirectory{declared: records, start: base + int64(dirOff), base: base}, nil
}

// findZipEndSignature is archive/zip's findSignatureInBlock.
func findZipEndSignature(b []byte) int {
	for i := len(b) - zipDirEndLen; i >= 0; i-- {
		if b[i] == 'P' && b[i+1] == 'K' && b[i+2] == 0x05 && b[i+3] == 0x06 {
			n := int(b[i+zipDirEndLen-2]) | int(b[i+zipDirEndLen-1])<<8
			if n+zipDirEndLen+i > len(b) {
				return -1
			}
			return i
		}
	}
	return -1
}

// findZip64End is archive/zip's findDirectory64End: the zip64 end record's
// offset, from the locator before the end record.
func findZip64End(r io.ReaderAt, endOff int64) (int64, bool) {
	loc := endOff - zipDir64LocLen
	if loc < 0 {
		return 0, false
	}
	b := make([]byte, zipDir64LocLen)
	if _, err := r.ReadAt(b, loc); err != nil {
		return 0, false
	}
	le := binary.LittleEndian
	if le.Uint32(b) != zipDir64LocSig || le.Uint32(b[4:]) != 0 || le.Uint32(b[16:]) != 1 {
		return 0, false
	}
	return int64(le.Uint64(b[8:])), true
}

// zipRecordAt reports whether a whole central directory record starts at
// off.
func zipRecordAt(r io.ReaderAt, off, size int64) bool {
	b := make([]byte, zipDirHeaderLen)
	if off < 0 || off+zipDirHeaderLen > size {
		return false
	}
	if _, err := r.ReadAt(b, off); err != nil {
		return false
	}
	le := binary.LittleEndian
	n := int64(le.Uint16(b[28:])) + int64(le.Uint16(b[30:])) + int64(le.Uint16(b[32:]))
	return le.Uint32(b) == zipDirHeaderSig && off+zipDirHeaderLen+n <= size
}

// limitZip returns r (size bytes) as it should be handed to archive/zip:
// as is when its central directory holds at most max records, as many as
// its end record declares; otherwise a view of it that holds the first
// max (or all) of them. cut says records were left out of the view.
func limitZip(r io.ReaderAt, size int64, max int) (view io.ReaderAt, viewSize int64, cut bool) {
	d, err := findZipDirectory(r, size)
	if err != nil {
		return r, size, false // archive/zip refuses it the same way
	}
	// Count the records as archive/zip reads them: one after the other
	// from the directory's start, until one is not there whole.
	br := bufio.NewReaderSize(io.NewSectionReader(r, d.start, size-d.start), 64<<10)
	h := make([]byte, zipDirHeaderLen)
	le := binary.LittleEndian
	end, count := d.start, 0
	for {
		if _, err := io.ReadFull(br, h); err != nil || le.Uint32(h) != zipDirHeaderSig {
			break
		}
		n := int64(le.Uint16(h[28:])) + int64(le.Uint16(h[30:])) + int64(le.Uint16(h[32:]))
		if end+zipDirHeaderLen+n > size {
			break
		}
		if count == max {
			cut = true
			break
		}
		if _, err := br.Discard(int(n)); err != nil {
			break
		}
		end += zipDirHeaderLen + n
		count++
	}
	if !cut && uint64(count) == d.declared {
		return r, size, false
	}
	return &zipView{r: r, cut: end, tail: zip64Tail(end, d, count)}, end + int64(zipDir64EndLen+zipDir64LocLen+zipDirEndLen), cut
}

// zip64Tail is the end of a view cut at off after count records: a zip64
// end record, its locator, and an end record that points at them, laid
// out so that archive/zip finds the same base and directory start.
func zip64Tail(off int64, d *zipDirectory, count int) []byte {
	le := binary.LittleEndian
	t := make([]byte, 0, zipDir64EndLen+zipDir64LocLen+zipDirEndLen)
	t = le.AppendUint32(t, zipDir64EndSig)
	t = le.AppendUint64(t, zipDir64EndLen-12)
	t = le.AppendUint16(le.AppendUint16(t, 45), 45)
	t = le.AppendUint32(le.AppendUint32(t, 0), 0)
	t = le.AppendUint64(le.AppendUint64(t, uint64(count)), uint64(count))
	t = le.AppendUint64(t, uint64(off-d.start))
	t = le.AppendUint64(t, uint64(d.start-d.base))
	t = le.AppendUint32(t, zipDir64LocSig)
	t = le.AppendUint32(t, 0)
	t = le.AppendUint64(t, uint64(off))
	t = le.AppendUint32(t, 1)
	t = le.AppendUint32(t, zipDirEndSig)
	t = le.AppendUint16(le.AppendUint16(t, 0), 0)
	t = le.AppendUint16(le.AppendUint16(t, 0xffff), 0xffff)
	t = le.AppendUint32(le.AppendUint32(t, 0xffffffff), 0xffffffff)
	return le.AppendUint16(t, 0)
}

// zipView reads r up to cut, then tail.
type zipView struct {
	r    io.ReaderAt
	cut  int64
	tail []byte
}

func (v *zipView) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < v.cut {
		k := int(min(int64(len(p)), v.cut-off))
		m, err := v.r.ReadAt(p[:k], off)
		n += m
		if m < k {
			return n, err
		}
		p, off = p[k:], v.cut
	}
	if len(p) == 0 {
		return n, nil
	}
	i := off - v.cut
	if i >= int64(len(v.tail)) {
		return n, io.EOF
	}
	m := copy(p, v.tail[i:])
	n += m
	if m < len(p) {
		return n, io.EOF
	}
	return n, nil
}
