package textscan

import (
	"bytes"
	"unicode/utf8"

	"golang.org/x/text/encoding/unicode"
)

// IsText reports whether a file's first bytes look like text: no NUL byte
// and valid UTF-8 (a cut rune at the end allowed), or Latin-1 without
// control characters.
func IsText(head []byte) bool {
	if bytes.IndexByte(head, 0) >= 0 {
		return false
	}
	if utf8.Valid(head) {
		return true
	}
	// Tolerate a rune cut by the end of the sample.
	for i := 1; i < 4 && i <= len(head); i++ {
		if utf8.Valid(head[:len(head)-i]) {
			return true
		}
	}
	for _, b := range head {
		if b < 0x20 && b != '\n' && b != '\r' && b != '\t' && b != '\f' {
			return false
		}
	}
	return true
}

// utf16Order returns the UTF-16 decoding that the byte order mark data
// starts with names, if it starts with one (FF FE little endian, FE FF big
// endian). UTF-32's little-endian mark starts like UTF-16's; its NUL
// bytes then fail the text check.
func utf16Order(data []byte) (unicode.Endianness, bool) {
	switch {
	case len(data) >= 2 && data[0] == 0xFF && data[1] == 0xFE:
		return unicode.LittleEndian, true
	case len(data) >= 2 && data[0] == 0xFE && data[1] == 0xFF:
		return unicode.BigEndian, true
	}
	return unicode.BigEndian, false
}

// DecodeUTF16 decodes data to UTF-8 if it starts with a UTF-16 byte order
// mark (the mark dropped; a cut or unpaired surrogate becomes U+FFFD), as
// Windows tools write text files: line breaks stay line breaks, so line
// numbers are those of the file. ok is false for any other data, which is
// returned as it is.
func DecodeUTF16(data []byte) (_ []byte, ok bool) {
	order, ok := utf16Order(data)
	if !ok {
		return data, false
	}
	out, err := unicode.UTF16(order, unicode.ExpectBOM).NewDecoder().Bytes(data)
	if err != nil {
		return data, false // not reached: the decoder replaces what it cannot read
	}
	return out, true
}

// IsUTF16Text reports whether a file's first bytes are UTF-16 text behind
// a byte order mark: decoded, no NUL and no control character but tabs,
// line breaks and form feeds (a binary that happens to start with FF FE
// decodes to those).
func IsUTF16Text(head []byte) bool {
	text, ok := DecodeUTF16(head)
	if !ok {
		return false
	}
	for _, b := range text {
		if b < 0x20 && b != '\n' && b != '\r' && b != '\t' && b != '\f' {
			return false
		}
	}
	return true
}

// Lines maps byte offsets of one file to 1-based line numbers.
type Lines []int // offsets at which lines start

// NewLines indexes the lines of data.
func NewLines(data []byte) Lines {
	idx := make(Lines, 1, bytes.Count(data, []byte{'\n'})+1)
	for at := 0; ; {
		i := bytes.IndexByte(data[at:], '\n')
		if i < 0 {
			return idx
		}
		at += i + 1
		idx = append(idx, at)
	}
}

// Line returns the line holding the byte at off.
func (l Lines) Line(off int) int {
	lo, hi := 0, len(l)
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if l[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}

// ForEachLine calls fn with each line of data (without its end, a
// carriage return included) and its 1-based number.
func ForEachLine(data []byte, fn func(line []byte, n int)) {
	n := 0
	for len(data) > 0 {
		n++
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		fn(bytes.TrimSuffix(line, []byte("\r")), n)
	}
}
