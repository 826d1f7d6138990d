package scanner

import (
	"bytes"
	"sort"
	"unicode/utf8"
)

// Excerpt is the text around a finding in a text file, for reports to show
// as trivy does: the finding's line and up to ExcerptContext lines on
// either side, each cut to about ExcerptWidth bytes, with every place the
// secret stands in them. It holds the secret as the file does: a report
// masks the Spans (and every other secret it knows) before showing it.
type Excerpt struct {
	First int      `json:"first"` // the line number of Lines[0]
	Lines []string `json:"lines"`
	Spans []Span   `json:"spans,omitempty"`
}

// Span is one place of the secret in an Excerpt: Lines[Line][Start:End].
type Span struct {
	Line, Start, End int
}

// Bounds of an excerpt.
const (
	ExcerptContext = 2   // lines shown before and after the finding's line
	ExcerptWidth   = 160 // bytes kept of a line (around the secret on the finding's own line)
	// maxExcerptSecret is the longest secret an excerpt is made for; a
	// longer one is masked to a few characters anyway.
	maxExcerptSecret = 4 << 10
	ellipsis         = "…"
)

// attachExcerpts gives each finding of one text file, whose secret stands
// as such on its line, the excerpt around it. A finding whose secret is
// not on its line verbatim (a private key re-encoded, a value unescaped
// or decoded) gets none: what cannot be found cannot be masked, so it is
// not shown.
func attachExcerpts(data []byte, fs []Finding) {
	need := map[int]bool{}
	last := 0
	for i := range fs {
		if l := fs[i].Line; excerptable(&fs[i]) {
			for n := max(1, l-ExcerptContext); n <= l+ExcerptContext; n++ {
				need[n] = true
			}
			last = max(last, l+ExcerptContext)
		}
	}
	if len(need) == 0 {
		return
	}
	lines := linesOf(data, need, last)
	for i := range fs {
		if excerptable(&fs[i]) {
			fs[i].Excerpt = excerptAt(lines, fs[i].Line, []byte(fs[i].Secret))
		}
	}
}

func excerptable(f *Finding) bool {
	return f.Line > 0 && f.Secret != "" && len(f.Secret) <= maxExcerptSecret && !bytes.ContainsAny([]byte(f.Secret), "\r\n")
}

// linesOf returns the lines of data whose numbers are in need, walking
// data once up to line last.
func linesOf(data []byte, need map[int]bool, last int) map[int][]byte {
	out := map[int][]byte{}
	pos := 0
	for n := 1; n <= last && pos < len(data); n++ {
		end := bytes.IndexByte(data[pos:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += pos
		}
		if need[n] {
			out[n] = bytes.TrimSuffix(data[pos:end], []byte("\r"))
		}
		pos = end + 1
	}
	return out
}

// excerptAt cuts the lines around line l, or returns nil when the secret
// is not on line l.
func excerptAt(lines map[int][]byte, l int, secret []byte) *Excerpt {
	hit, ok := lines[l]
	if !ok || !bytes.Contains(hit, secret) {
		return nil
	}
	ex := &Excerpt{}
	for n := max(1, l-ExcerptContext); n <= l+ExcerptContext; n++ {
		line, ok := lines[n]
		if !ok {
			if n < l {
				continue
			}
			break
		}
		if ex.Lines == nil {
			ex.First = n
		}
		center := -1
		if n == l {
			center = bytes.Index(line, secret)
		}
		text, spans, ok := clip(line, secret, center)
		if !ok {
			return nil
		}
		for _, s := range spans {
			ex.Spans = append(ex.Spans, Span{Line: len(ex.Lines), Start: s[0], End: s[1]})
		}
		ex.Lines = append(ex.Lines, text)
	}
	return ex
}

// clip cuts a line to about ExcerptWidth bytes, around center when it is
// not -1 (the secret's first place on the finding's line), and returns
// the places of the secret in what it kept. An edge is moved so that it
// never cuts through the secret, and an edge that would is reported as
// not ok: a piece of a secret would escape its mask.
func clip(line, secret []byte, center int) (string, [][2]int, bool) {
	var occ [][2]int
	for i := 0; i+len(secret) <= len(line); {
		j := bytes.Index(line[i:], secret)
		if j < 0 {
			break
		}
		occ = append(occ, [2]int{i + j, i + j + len(secret)})
		i += j + len(secret)
	}
	ws, we := 0, len(line)
	if len(line) > ExcerptWidth {
		if center >= 0 {
			ws = max(0, center-ExcerptWidth/3)
			we = min(len(line), max(ws+ExcerptWidth, center+len(secret)))
		} else {
			we = ExcerptWidth
		}
		for _, o := range occ {
			if o[0] < ws && o[1] > ws {
				ws = o[1]
			}
			if o[0] < we && o[1] > we {
				we = o[0]
			}
		}
		for ws < we && !utf8.RuneStart(line[ws]) {
			ws++
		}
		for we < len(line) && we > ws && !utf8.RuneStart(line[we]) {
			we--
		}
	}
	var spans [][2]int
	pre := 0
	if ws > 0 {
		pre = len(ellipsis)
	}
	for _, o := range occ {
		switch {
		case o[1] <= ws || o[0] >= we:
		case o[0] >= ws && o[1] <= we:
			spans = append(spans, [2]int{o[0] - ws + pre, o[1] - ws + pre})
		default:
			return "", nil, false
		}
	}
	text := string(line[ws:we])
	if ws > 0 {
		text = ellipsis + text
	}
	if we < len(line) {
		text += ellipsis
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	return text, spans, true
}
