package textscan

import "sort"

// keywordScanner finds every occurrence, overlapping ones included, of a
// set of lower-case keywords in text, ignoring ASCII case (upper-case
// letters share their lower-case letter's byte class, so the text is not
// lower-cased first). It is the prefilter in front of gitleaks' rules and
// runs over every byte of every text file, so it is written for speed, by
// hand: the Aho-Corasick libraries at hand either walk a double-array trie
// (BobuSumisu's, which gitleaks uses, about 160 MB/s here) or report
// leftmost non-overlapping matches from a single-stream DFA (about
// 310 MB/s). This one is a dense DFA over byte classes (about 40: the
// bytes keyword prefixes use, and the rest), built from the keywords'
// first 16 bytes, the rest of a longer keyword being compared where its
// prefix ends. The prefix bounds the table for a custom config of many
// long keywords, and is shortened until the table fits maxTable (shorter
// prefixes were tried for gitleaks' keywords: the partial matches they
// report cost more than the smaller table saves). A DFA step waits on the
// previous one's table load, so the text is cut in five and the five parts
// are walked in one loop, their loads overlapping: about 1.7 GB/s on
// source-like text.
type keywordScanner struct {
	keywords []string
	plen     int // prefix length the DFA is built from
	class    [256]uint8
	// Rows have 1<<shift columns, the classes rounded up to a power of
	// two, so that a row offset turns back into its state with a shift.
	shift uint
	// trans holds, for each state and byte class, the next state's row
	// offset (state << shift), with matchBit set when a prefix ends there.
	trans []uint32
	// ends lists, per state, the keywords one of whose prefixes (or the
	// keyword itself) ends there: the state's own and its suffix states'.
	ends [][]int32
}

const (
	prefixLen = 16
	// maxTable bounds the DFA's table (entries of 4 bytes).
	maxTable = 4 << 20
	matchBit = 1 << 31
	// interleaveMin is the text length from which the five-way walk is
	// worth its setup.
	interleaveMin = 4 << 10
)

func newKeywordScanner(keywords []string) *keywordScanner {
	plen := prefixLen
	for {
		if k := buildKeywordScanner(keywords, plen); k != nil {
			return k
		}
		plen /= 2
	}
}

// buildKeywordScanner builds the DFA of the keywords' first plen bytes, or
// returns nil if its table would be over maxTable entries (never for plen
// 1: at most 256 states of 256 classes).
func buildKeywordScanner(keywords []string, plen int) *keywordScanner {
	k := &keywordScanner{keywords: keywords, plen: plen}
	var used [256]bool
	for _, kw := range keywords {
		for i := 0; i < len(kw) && i < plen; i++ {
			used[kw[i]] = true
		}
	}
	nc := 1 // class 0: bytes no prefix uses
	for b := range used {
		if used[b] {
			k.class[b] = uint8(nc)
			nc++
		}
	}
	if nc > 256 { // every byte value is used: a class each
		for b := range k.class {
			k.class[b] = uint8(b)
		}
		nc = 256
	}
	for b := 'A'; b <= 'Z'; b++ {
		k.class[b] = k.class[b+'a'-'A']
	}
	for 1<<k.shift < nc {
		k.shift++
	}
	// The trie of prefixes; states are numbered in insertion order.
	type node struct {
		next map[uint8]int
		ends []int32
	}
	nodes := []node{{next: map[uint8]int{}}}
	for i, kw := range keywords {
		s := 0
		for j := 0; j < len(kw) && j < plen; j++ {
			c := k.class[kw[j]]
			n, ok := nodes[s].next[c]
			if !ok {
				nodes = append(nodes, node{next: map[uint8]int{}})
				n = len(nodes) - 1
				nodes[s].next[c] = n
			}
			s = n
		}
		nodes[s].ends = append(nodes[s].ends, int32(i))
	}
	if plen > 1 && len(nodes)<<k.shift > maxTable {
		return nil
	}
	// Breadth first, each state's missing transitions are its failure
	// state's, and its ends include its failure state's.
	nc = 1 << k.shift
	next := make([]int, len(nodes)*nc)
	fail := make([]int, len(nodes))
	queue := make([]int, 0, len(nodes))
	for c := 0; c < nc; c++ {
		if n, ok := nodes[0].next[uint8(c)]; ok {
			next[c] = n
			queue = append(queue, n)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		nodes[s].ends = append(nodes[s].ends, nodes[fail[s]].ends...)
		for c := 0; c < nc; c++ {
			if n, ok := nodes[s].next[uint8(c)]; ok {
				fail[n] = next[fail[s]*nc+c]
				next[s*nc+c] = n
				queue = append(queue, n)
			} else {
				next[s*nc+c] = next[fail[s]*nc+c]
			}
		}
	}
	k.trans = make([]uint32, len(next))
	for i, n := range next {
		k.trans[i] = uint32(n << k.shift)
		if len(nodes[n].ends) > 0 {
			k.trans[i] |= matchBit
		}
	}
	k.ends = make([][]int32, len(nodes))
	for s := range nodes {
		ends := nodes[s].ends
		sort.Slice(ends, func(i, j int) bool { return ends[i] < ends[j] })
		k.ends[s] = ends
	}
	return k
}

// scan calls hit with the start offset and keyword index of every keyword
// occurrence in text, in no particular order.
func (k *keywordScanner) scan(text []byte, hit func(start, keyword int)) {
	n := len(text)
	if n < interleaveMin {
		k.walk(text, 0, 0, n, hit)
		return
	}
	// Part j reports the prefixes ending in [j*q, (j+1)*q); parts 1 to 4
	// start plen-1 bytes early to enter their first byte in the state the
	// whole text's walk would be in (no prefix is longer). All five run q
	// bytes in lockstep from their reporting starts; the last then
	// finishes the text. (Measured on source-like text: three parts 1.3
	// GB/s, four 1.55, five 1.7, six to eight 1.6, more spill registers.)
	warm := k.plen - 1
	const parts = 5
	q := n / parts
	trans, cls := k.trans, &k.class
	var st [parts]uint32
	for j := 1; j < parts; j++ {
		a := j*q - warm
		for i := 0; i < warm; i++ {
			st[j] = trans[st[j]&^matchBit+uint32(cls[text[a+i]])]
		}
	}
	s0, s1, s2, s3, s4 := st[0], st[1], st[2], st[3], st[4]
	p0, p1, p2, p3, p4 := text[:q], text[q:2*q], text[2*q:3*q], text[3*q:4*q], text[4*q:5*q]
	for i := 0; i < q; i++ {
		s0 = trans[s0&^matchBit+uint32(cls[p0[i]])]
		s1 = trans[s1&^matchBit+uint32(cls[p1[i]])]
		s2 = trans[s2&^matchBit+uint32(cls[p2[i]])]
		s3 = trans[s3&^matchBit+uint32(cls[p3[i]])]
		s4 = trans[s4&^matchBit+uint32(cls[p4[i]])]
		if (s0|s1|s2|s3|s4)&matchBit != 0 {
			for j, s := range [parts]uint32{s0, s1, s2, s3, s4} {
				if s&matchBit != 0 {
					k.report(text, j*q+i, s, hit)
				}
			}
		}
	}
	k.walk(text, s4, parts*q, n, hit)
}

// walk runs the DFA from state s over text[from:to].
func (k *keywordScanner) walk(text []byte, s uint32, from, to int, hit func(start, keyword int)) {
	trans, cls := k.trans, &k.class
	for i := from; i < to; i++ {
		s = trans[s&^matchBit+uint32(cls[text[i]])]
		if s&matchBit != 0 {
			k.report(text, i, s, hit)
		}
	}
}

// report checks the keywords whose prefix ends at text[end] in state s.
func (k *keywordScanner) report(text []byte, end int, s uint32, hit func(start, keyword int)) {
	for _, ki := range k.ends[(s&^matchBit)>>k.shift] {
		kw := k.keywords[ki]
		start := end + 1 - min(len(kw), k.plen)
		if len(kw) > k.plen && (start+len(kw) > len(text) || !equalFold(text[start+k.plen:start+len(kw)], kw[k.plen:])) {
			continue
		}
		hit(start, int(ki))
	}
}

// equalFold reports whether b is s, ignoring ASCII case; s is lower case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lowerASCII(b[i]) != s[i] {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases an ASCII letter, and leaves any other byte.
func lowerASCII(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}
