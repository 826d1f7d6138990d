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
