package gitleaks

import "github.com/peelscan/peel/rules/internal/textscan"

// keywordScanner is textscan's keyword DFA under the names the windows
// use; its keywords are kept at hand for them.
type keywordScanner struct {
	*textscan.Scanner
	keywords []string
}

func newKeywordScanner(keywords []string) *keywordScanner {
	return &keywordScanner{Scanner: textscan.New(keywords), keywords: keywords}
}

func (k *keywordScanner) scan(text []byte, hit func(start, keyword int)) { k.Scanner.Scan(text, hit) }

func equalFold(b []byte, s string) bool { return textscan.EqualFold(b, s) }

func lowerASCII(b byte) byte { return textscan.LowerASCII(b) }
