// Package textscan holds the text primitives every detector of peel's rules
// shares: the keyword DFA that finds many keywords in one pass over a file
// (gitleaks' prefilter, and the properties detector's key hints), line
// numbering, and ASCII case folding. It knows nothing of secrets.
package textscan

// Scanner finds every occurrence of a set of lower-case keywords in text,
// ignoring ASCII case; see keywordScanner.
type Scanner = keywordScanner

// New builds a Scanner for keywords, which must be lower case.
func New(keywords []string) *Scanner { return newKeywordScanner(keywords) }

// Scan calls hit with the start offset and keyword index of every keyword
// occurrence in text, overlapping ones included, in no particular order.
func (k *keywordScanner) Scan(text []byte, hit func(start, keyword int)) { k.scan(text, hit) }

// Keywords returns the keywords, in the order their indexes refer to.
func (k *keywordScanner) Keywords() []string { return k.keywords }

// EqualFold reports whether b is s, ignoring ASCII case; s is lower case.
func EqualFold(b []byte, s string) bool { return equalFold(b, s) }

// LowerASCII lower-cases an ASCII letter, and leaves any other byte.
func LowerASCII(b byte) byte { return lowerASCII(b) }
