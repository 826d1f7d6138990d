package rules

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/magiconair/properties"
)

// keyHints are lower-case fragments one of which every secret-named key
// holds; a logical line without any of them is not parsed at all.
var keyHints = [][]byte{[]byte("pass"), []byte("pwd"), []byte("secret"), []byte("token"), []byte("credential"), []byte("key")}

// ScanProperties finds secrets in a Java .properties file. Each logical line
// (continuation lines joined) that could hold a secret-named key is parsed
// on its own by magiconair/properties, which owns the syntax (separators,
// escapes, \uXXXX); parsing line by line keeps line numbers, which the
// library does not report, and keeps duplicate keys, of which it keeps only
// the last.
func ScanProperties(data []byte) ([]Finding, error) {
	var c collector
	scanProperties(data, &c)
	r := c.finish()
	return r.Findings, r.Err
}

func scanProperties(data []byte, c *collector) {
	loader := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	if !utf8.Valid(data) {
		loader.Encoding = properties.ISO_8859_1
	}
	forEachLogicalLine(data, func(line []byte, lineNo int) {
		if !hasKeyHint(line) {
			return
		}
		p, err := loader.LoadBytes(line)
		if err != nil {
			c.fail(fmt.Errorf("line %d: malformed property", lineNo))
			return
		}
		for _, k := range p.Keys() {
			v, _ := p.Get(k)
			c.keyValue(RuleConfigSecret, k, v, lineNo)
		}
	})
}

func hasKeyHint(line []byte) bool {
	// One pass over the line, comparing at the bytes a hint starts with.
	for i, c := range line {
		if !hintStart[c] {
			continue
		}
		for _, h := range keyHints {
			if hasPrefixFold(line[i:], h) {
				return true
			}
		}
	}
	return false
}

// hintStart marks the bytes, either case, that a key hint starts with.
var hintStart = func() (t [256]bool) {
	for _, h := range keyHints {
		t[h[0]], t[h[0]-'a'+'A'] = true, true
	}
	return t
}()

// hasPrefixFold is bytes.HasPrefix, ignoring ASCII case; prefix must be
// lower case.
func hasPrefixFold(s, prefix []byte) bool {
	if len(s) < len(prefix) {
		return false
	}
	for j, p := range prefix {
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != p {
			return false
		}
	}
	return true
}

// forEachLogicalLine calls fn with every logical line of a properties file
// that is not blank or a comment, and the number of its first physical line.
// A line continues onto the next when it ends in an odd number of
// backslashes; comment lines never continue.
func forEachLogicalLine(data []byte, fn func(line []byte, lineNo int)) {
	lineNo := 0
	var logical []byte
	start := 0
	for len(data) > 0 {
		var phys []byte
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			phys, data = data, nil
		} else {
			phys = data[:i]
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				i++
			}
			data = data[i+1:]
		}
		lineNo++
		if logical == nil {
			trimmed := bytes.TrimLeft(phys, " \t\f")
			if len(trimmed) == 0 || trimmed[0] == '#' || trimmed[0] == '!' {
				continue
			}
			start = lineNo
			logical = append(logical[:0:0], trimmed...)
		} else {
			logical = append(logical, '\n')
			logical = append(logical, bytes.TrimLeft(phys, " \t\f")...)
		}
		if trailingBackslashes(phys)%2 == 1 {
			continue
		}
		fn(logical, start)
		logical = nil
	}
	if logical != nil {
		fn(logical, start)
	}
}

func trailingBackslashes(b []byte) int {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n
}
