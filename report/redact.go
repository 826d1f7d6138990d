package report

import (
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/peelscan/peel/scanner"
)

// Redact keeps the first two characters of a secret and hides the rest;
// secrets of four characters or fewer are hidden whole.
func Redact(s string) string {
	if utf8.RuneCountInString(s) <= 4 {
		return "…"
	}
	r := []rune(s)
	return string(r[:2]) + "…"
}

// shortSecret is the length, in bytes, below which a secret is replaced
// only where it stands alone (not inside a longer word): "pw1" is hidden in
// "|1 PW=pw1 /bin/sh" but "spw1x" is left alone, so that a short secret
// does not garble every path that happens to contain its letters.
const shortSecret = 8

// redactor hides the secrets of a report's findings in every string of
// the report that comes from the image: a build step's created_by holds a
// build argument's value, a location or a key may hold anything. Every
// writer renders the report it is given, so what the redactor hides is
// hidden in every format.
type redactor struct {
	long  *strings.Replacer // secrets of shortSecret bytes or more, and their URL-encoded forms
	short map[string]string // shorter secrets, replaced as whole words
	lens  []int             // the lengths of the short secrets, longest first
}

// newRedactor collects every secret of the results (findings that an
// ignore file or a baseline suppresses included).
func newRedactor(results []*scanner.Result) *redactor {
	seen := map[string]bool{}
	for _, res := range results {
		for i := range res.Findings {
			if s := res.Findings[i].Secret; s != "" {
				seen[s] = true
			}
		}
	}
	r := &redactor{short: map[string]string{}}
	var long []string
	for s := range seen {
		if len(s) < shortSecret {
			r.short[s] = Redact(s)
			continue
		}
		long = append(long, s)
	}
	// A secret may sit in a URL percent-encoded.
	forms := map[string]string{}
	for _, s := range long {
		forms[s] = Redact(s)
		for _, enc := range []string{url.QueryEscape(s), url.PathEscape(s)} {
			if _, ok := forms[enc]; !ok {
				forms[enc] = Redact(s)
			}
		}
	}
	olds := make([]string, 0, len(forms))
	for s := range forms {
		olds = append(olds, s)
	}
	// Longest first: the Replacer prefers earlier pairs among the matches
	// at one position, so a secret that contains another is hidden whole.
	sort.Slice(olds, func(i, j int) bool {
		if len(olds[i]) != len(olds[j]) {
			return len(olds[i]) > len(olds[j])
		}
		return olds[i] < olds[j]
	})
	if len(olds) > 0 {
		pairs := make([]string, 0, 2*len(olds))
		for _, s := range olds {
			pairs = append(pairs, s, forms[s])
		}
		r.long = strings.NewReplacer(pairs...)
	}
	lens := map[int]bool{}
	for s := range r.short {
		lens[len(s)] = true
	}
	for n := range lens {
		r.lens = append(r.lens, n)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(r.lens)))
	return r
}

// s returns x with every secret replaced by its redacted form. A nil
// redactor (--show-secrets) returns x unchanged.
func (r *redactor) s(x string) string {
	if r == nil || x == "" {
		return x
	}
	if r.long != nil {
		x = r.long.Replace(x)
	}
	if len(r.short) > 0 {
		x = r.replaceWords(x)
	}
	return x
}

// all redacts each string of xs into a new slice.
func (r *redactor) all(xs []string) []string {
	if r == nil || xs == nil {
		return xs
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = r.s(x)
	}
	return out
}

// replaceWords replaces the short secrets where they are not preceded or
// followed by a letter or digit.
func (r *redactor) replaceWords(x string) string {
	var b strings.Builder
	last := 0 // x[last:i] is not yet copied
	for i := 0; i < len(x); {
		if i > 0 && isWordByte(x[i-1]) {
			i++
			continue
		}
		matched := 0
		for _, n := range r.lens {
			if i+n > len(x) || i+n < len(x) && isWordByte(x[i+n]) {
				continue
			}
			if red, ok := r.short[x[i:i+n]]; ok {
				b.WriteString(x[last:i])
				b.WriteString(red)
				matched = n
				break
			}
		}
		if matched == 0 {
			i++
			continue
		}
		i += matched
		last = i
	}
	if last == 0 {
		return x
	}
	b.WriteString(x[last:])
	return b.String()
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c >= 0x80
}

// excerpt is the report's form of a finding's excerpt: with a redactor,
// the secret is replaced by its redacted form at each of its places, and
// every secret of the report elsewhere in the lines; without one
// (--show-secrets), the lines as they are.
func (r *redactor) excerpt(ex *scanner.Excerpt, secret string) *Excerpt {
	if ex == nil || len(ex.Lines) == 0 {
		return nil
	}
	out := &Excerpt{FirstLine: ex.First, Lines: append([]string(nil), ex.Lines...)}
	if r == nil {
		return out
	}
	// The places, last first, so that earlier offsets stay right.
	spans := append([]scanner.Span(nil), ex.Spans...)
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].Line != spans[j].Line {
			return spans[i].Line > spans[j].Line
		}
		return spans[i].Start > spans[j].Start
	})
	for _, s := range spans {
		if s.Line < 0 || s.Line >= len(out.Lines) || s.Start < 0 || s.End > len(out.Lines[s.Line]) || s.Start > s.End {
			return nil // not this excerpt's places: show nothing rather than guess
		}
		l := out.Lines[s.Line]
		out.Lines[s.Line] = l[:s.Start] + Redact(secret) + l[s.End:]
	}
	for i, l := range out.Lines {
		out.Lines[i] = r.s(l)
	}
	return out
}

// finding redacts the secret of a finding and every string in it that
// comes from the image.
func (r *redactor) finding(f *Finding) {
	if f.Secret != "" {
		f.Secret, f.Redacted = Redact(f.Secret), true
	}
	f.Location = r.s(f.Location)
	f.Path = r.all(f.Path)
	f.Key = r.s(f.Key)
	f.CreatedBy = r.s(f.CreatedBy)
	f.VerifiedBy = r.s(f.VerifiedBy)
	f.Opens = r.all(f.Opens)
	f.Aliases = r.all(f.Aliases)
}
