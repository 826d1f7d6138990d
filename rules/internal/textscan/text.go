package textscan

import (
	"bytes"
	"unicode/utf8"
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
