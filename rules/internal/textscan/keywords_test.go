package textscan

import (
	"math/rand"
	"sort"
	"strings"
	"testing"
)

// naiveHits finds every occurrence of every (lower-case) keyword by plain
// search in the text lower-cased.
func naiveHits(text string, keywords []string) [][2]int {
	b := []byte(text)
	for i := range b {
		b[i] = lowerASCII(b[i])
	}
	text = string(b)
	var out [][2]int
	for ki, kw := range keywords {
		for i := 0; ; i++ {
			j := strings.Index(text[i:], kw)
			if j < 0 {
				break
			}
			i += j
			out = append(out, [2]int{i, ki})
		}
	}
	return sortHits(out)
}

func sortHits(h [][2]int) [][2]int {
	sort.Slice(h, func(i, j int) bool { return h[i][0] < h[j][0] || h[i][0] == h[j][0] && h[i][1] < h[j][1] })
	return h
}

// TestKeywordScanner compares the scanner with plain search on texts made
// of keyword pieces (so that prefixes, overlaps, keywords inside keywords
// and near misses abound), at lengths around the five-way split, whose
// part boundaries must neither lose nor repeat a hit.
func TestKeywordScanner(t *testing.T) {
	sets := map[string][]string{
		"gitleaks": engine(t).keywords.keywords,
		"nested": {"ab", "abc", "abcd", "abcde", "abcdef", "bcd", "bcdefg", "cd", "d", "zzzzzz", "zzzzzzz", "a-b.c_d",
			"abcdefghijklmnopqrstu", "abcdefghijklmnopqrsxx", "bcdefghijklmnopqrstuvw"}, // longer than prefixLen
	}
	r := rand.New(rand.NewSource(7))
	for name, kws := range sets {
		k := newKeywordScanner(kws)
		for _, n := range []int{0, 1, 3, 17, interleaveMin - 1, interleaveMin, interleaveMin + 1, interleaveMin + 3, 40_001, 65_536} {
			for round := 0; round < 3; round++ {
				var b []byte
				for len(b) < n {
					switch r.Intn(4) {
					case 0:
						kw := kws[r.Intn(len(kws))]
						b = append(b, kw[:1+r.Intn(len(kw))]...) // a keyword or one of its prefixes
					case 1:
						b = append(b, kws[r.Intn(len(kws))]...)
					case 2:
						b = append(b, " \n=._-\x00\xff"[r.Intn(8)])
					default:
						b = append(b, byte('a'+r.Intn(26)))
					}
					if c := b[len(b)-1]; r.Intn(5) == 0 && c >= 'a' && c <= 'z' {
						b[len(b)-1] = c - 'a' + 'A' // the scan ignores ASCII case
					}
				}
				text := string(b[:n])
				var got [][2]int
				k.scan([]byte(text), func(start, ki int) { got = append(got, [2]int{start, ki}) })
				got = sortHits(got)
				want := naiveHits(text, kws)
				if len(got) != len(want) {
					t.Fatalf("%s, %d bytes: %d hits, plain search %d", name, n, len(got), len(want))
				}
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s, %d bytes: hit %d is %v (%q), plain search %v", name, n, i, got[i], kws[got[i][1]], want[i])
					}
				}
			}
		}
	}
}

// BenchmarkKeywordScanner runs gitleaks' keywords over source-like text
// dense in them (as the make bench image's is).
func BenchmarkKeywordScanner(b *testing.B) {
	e, _ := DefaultEngine()
	words := strings.Fields("function return const var let import export class public private static void " +
		"config value name type data list map key index result error request response user service server client")
	r := rand.New(rand.NewSource(1))
	var text strings.Builder
	for text.Len() < 4<<20 {
		for w := 3 + r.Intn(9); w > 0; w-- {
			text.WriteString(words[r.Intn(len(words))])
			text.WriteByte(" .(,=_"[r.Intn(6)])
		}
		text.WriteByte('\n')
	}
	data := []byte(text.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	n := 0
	for i := 0; i < b.N; i++ {
		e.keywords.scan(data, func(int, int) { n++ })
	}
}

// TestKeywordScannerBounds: a keyword set whose DFA would be too large is
// built from shorter prefixes, and one that uses every byte value still
// gets a class per byte; both find what plain search finds.
func TestKeywordScannerBounds(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var many []string
	seen := map[string]bool{}
	for len(many) < 30000 {
		b := make([]byte, 12+r.Intn(10))
		for i := range b {
			b[i] = byte('a' + r.Intn(26))
		}
		if !seen[string(b)] {
			seen[string(b)] = true
			many = append(many, string(b))
		}
	}
	var everyByte []string
	for b := 0; b < 256; b++ {
		if b < 'A' || b > 'Z' { // keywords are lower case
			everyByte = append(everyByte, string([]byte{byte(b), 'x'}))
		}
	}
	for name, kws := range map[string][]string{"many long": many, "every byte": everyByte} {
		k := newKeywordScanner(kws)
		if len(k.trans) > maxTable {
			t.Errorf("%s: table of %d entries", name, len(k.trans))
		}
		var b strings.Builder
		for b.Len() < 3*interleaveMin {
			if r.Intn(3) == 0 {
				b.WriteString(kws[r.Intn(len(kws))])
			} else {
				b.WriteByte(byte(r.Intn(256)))
			}
		}
		text := b.String()
		var got [][2]int
		k.scan([]byte(text), func(start, ki int) { got = append(got, [2]int{start, ki}) })
		got = sortHits(got)
		want := naiveHits(text, kws)
		if len(got) != len(want) {
			t.Fatalf("%s (prefixes of %d): %d hits, plain search %d", name, k.plen, len(got), len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: hit %d is %v, plain search %v", name, i, got[i], want[i])
			}
		}
		t.Logf("%s: prefixes of %d bytes, %d table entries", name, k.plen, len(k.trans))
	}
}

// TestDecodeUTF16: text behind a UTF-16 byte order mark, either order,
// decodes to the same UTF-8 lines; a cut surrogate or a byte left over
// becomes U+FFFD; anything else is left alone.
func TestDecodeUTF16(t *testing.T) {
	for in, want := range map[string]string{
		"\xff\xfea\x00=\x00\r\x00\n\x00\xe9\x00\n\x00": "a=\r\né\n",
		"\xfe\xff\x00a\x00=\x00\n\xd8\x3d\xde\x00":     "a=\n\U0001F600",
		"\xff\xfea\x00\x3d\xd8":                        "a\uFFFD",
		"\xff\xfea\x00b":                               "a\uFFFD",
		"\xff\xfe":                                     "",
	} {
		got, ok := DecodeUTF16([]byte(in))
		if !ok || string(got) != want {
			t.Errorf("DecodeUTF16(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"plain", "\xef\xbb\xbfutf-8 with a mark", "\xff"} {
		if got, ok := DecodeUTF16([]byte(in)); ok || string(got) != in {
			t.Errorf("DecodeUTF16(%q) = %q, %v; want it left alone", in, got, ok)
		}
	}
}
