package gitleaks

import (
	"regexp/syntax"
	"slices"
	"strings"

	glconfig "github.com/zricethezav/gitleaks/v8/config"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"
)

// How a provider rule group gates a keyword's hits (see hitCounts),
// derived from the regexps of the rules that have the keyword. The
// loosest any of them needs wins.
const (
	// gatePrefix: the keyword is part of the secret (ghp_, xoxb, akia, s.,
	// ey, _mmk): the hit counts when as many token characters follow it
	// as the rules' regexps need there (keywordUse's run).
	gatePrefix uint8 = iota
	// gateAssignment: the name in a semi-generic regexp (password,
	// adobe, telegr: utils.GenerateSemiGenericRegex), which an operator
	// follows within assignmentOperator bytes: the hit counts when one
	// does (assignmentAt).
	gateAssignment
	// gateOpen: the keyword is a name followed by whatever the regexp
	// allows (curl, kind: secret), or it does not show in the regexp at
	// all: every hit counts (for rules whose matches cross lines, when
	// the words every match holds are near: see requiredWords), and
	// mayReport's regexps decide.
	gateOpen
)

// How far a keyword's windows reach, from its rules' regexps.
const (
	// spanLine: no match crosses a line.
	spanLine uint8 = iota
	// spanAssignment: a semi-generic regexp, whose blanks around the
	// operator may be newlines: a hit whose line ends between it and
	// where its secret can start takes the lines up to there.
	spanAssignment
	// spanLines: the lines around the hit, within windowReach.
	spanLines
)

// semiGenericOperator is the assignment operator of the regexps gitleaks'
// generator builds around an identifier (utils.GenerateSemiGenericRegex).
const semiGenericOperator = `(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)`

// maxRun bounds the token run hitCounts looks at; maxToken how far a
// window follows a token past its keyword (a JWT of several KiB).
const (
	maxRun   = 48
	maxToken = 64 << 10
)

// keywordUse derives how hits of kw (lower case) are gated for rule r, and
// for gatePrefix how many token bytes (isTokenByte) must follow the
// keyword. The keyword is looked for in the regexp's source before the
// capture group that holds the secret (the whole match if there is none):
// there it names the secret; else in the strings the group can match
// (tokenPaths): there it is part of the token.
func keywordUse(r glconfig.Rule, kw string) (gate uint8, run int) {
	if r.Regex == nil {
		return gateOpen, 0
	}
	src := r.Regex.String()
	start, _ := secretGroupSpan(src, r.SecretGroup)
	semiGeneric := strings.Contains(src[:start], semiGenericOperator)
	if strings.Contains(literalView(src[:start]), kw) {
		if semiGeneric {
			return gateAssignment, 0
		}
		return gateOpen, 0
	}
	// Not in the source before the secret as written (linked[_-]?in): a
	// name of a semi-generic regexp unless the secret's strings hold it.
	fallback := gateOpen
	if semiGeneric {
		fallback = gateAssignment
	}
	t, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return fallback, 0
	}
	paths, ok := tokenPaths(secretGroup(t, r.SecretGroup))
	if !ok {
		return fallback, 0
	}
	run, found := maxRun, false
	for _, p := range paths {
		for i := 0; i+len(kw) <= len(p); i++ {
			if p.has(i, kw) {
				found = true
				run = min(run, p.runAfter(i+len(kw)))
			}
		}
	}
	if !found {
		return fallback, 0
	}
	return gatePrefix, run
}

// spanOf tells how far the windows of a rule's keywords must reach.
func spanOf(r glconfig.Rule) uint8 {
	switch {
	case !matchesAcrossLines(r.Regex):
		return spanLine
	case strings.Contains(r.Regex.String(), semiGenericOperator):
		return spanAssignment
	}
	return spanLines
}

// atom is one step of a path through a regexp: a literal byte (lower
// case), or a class repeated min times or more.
type atom struct {
	lit      byte
	class    bool
	min      int
	inTokens bool // the class holds token bytes only
}

type tokenPath []atom

// has reports kw (lower case) as literal atoms from p[i].
func (p tokenPath) has(i int, kw string) bool {
	for j := 0; j < len(kw); j++ {
		if p[i+j].class || p[i+j].lit != kw[j] {
			return false
		}
	}
	return true
}

// runAfter is the fewest token bytes a match has from p[i] on.
func (p tokenPath) runAfter(i int) int {
	n := 0
	for _, a := range p[i:] {
		switch {
		case !a.class && isTokenByte(a.lit):
			n++
		case a.class && a.inTokens:
			n += a.min
		default:
			return min(n, maxRun)
		}
	}
	return min(n, maxRun)
}

// maxPaths bounds tokenPaths' expansion.
const maxPaths = 512

// tokenPaths expands a regexp into the sequences of atoms its matches
// follow, alternations and small classes (of up to four letters, [su],
// [Ee]) taken apart so that keywords show as literals; false if they are
// too many. A repeated group it cannot follow becomes a class that is not
// of token bytes, which ends a token run (fewer bytes required: the gate
// stays necessary).
func tokenPaths(t *syntax.Regexp) ([]tokenPath, bool) {
	switch t.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []tokenPath{nil}, true
	case syntax.OpLiteral:
		p := make(tokenPath, 0, len(t.Rune))
		for _, r := range t.Rune {
			if r >= 0x80 {
				p = append(p, atom{class: true, min: 1})
				continue
			}
			p = append(p, atom{lit: lowerASCII(byte(r))})
		}
		return []tokenPath{p}, true
	case syntax.OpCharClass:
		if letters := smallClass(t.Rune); letters != nil {
			var out []tokenPath
			for _, b := range letters {
				out = append(out, tokenPath{{lit: b}})
			}
			return out, true
		}
		return []tokenPath{{classAtom(t, 1)}}, true
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return []tokenPath{{{class: true, min: 1}}}, true
	case syntax.OpCapture:
		return tokenPaths(t.Sub[0])
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo := t.Min
		switch t.Op {
		case syntax.OpStar, syntax.OpQuest:
			lo = 0
		case syntax.OpPlus:
			lo = 1
		}
		if s := t.Sub[0]; s.Op == syntax.OpCharClass || s.Op == syntax.OpLiteral && len(s.Rune) == 1 {
			return []tokenPath{{classAtom(s, lo)}}, true
		}
		return []tokenPath{{{class: true, min: 0}}}, true
	case syntax.OpConcat:
		out := []tokenPath{nil}
		for _, s := range t.Sub {
			sub, ok := tokenPaths(s)
			if !ok || len(out)*len(sub) > maxPaths {
				return nil, false
			}
			next := make([]tokenPath, 0, len(out)*len(sub))
			for _, a := range out {
				for _, b := range sub {
					next = append(next, append(append(tokenPath{}, a...), b...))
				}
			}
			out = next
		}
		return out, true
	case syntax.OpAlternate:
		var out []tokenPath
		for _, s := range t.Sub {
			sub, ok := tokenPaths(s)
			if !ok || len(out)+len(sub) > maxPaths {
				return nil, false
			}
			out = append(out, sub...)
		}
		return out, true
	}
	return []tokenPath{{{class: true, min: 0}}}, true
}

// smallClass returns the lower-cased ASCII letters and digits of a class
// of at most four of them (case pairs counting once), or nil.
func smallClass(ranges []rune) []byte {
	var out []byte
	for i := 0; i+1 < len(ranges); i += 2 {
		if ranges[i+1]-ranges[i] > 4 {
			return nil
		}
		for r := ranges[i]; r <= ranges[i+1]; r++ {
			if r >= 0x80 || !isAlnum(byte(r)) {
				return nil
			}
			b := lowerASCII(byte(r))
			if !slices.Contains(out, b) {
				out = append(out, b)
			}
		}
	}
	if len(out) > 4 {
		return nil
	}
	return out
}

// classAtom is a class (or one-rune literal) repeated lo times or more.
func classAtom(t *syntax.Regexp, lo int) atom {
	a := atom{class: true, min: lo, inTokens: true}
	if t.Op == syntax.OpLiteral {
		a.inTokens = t.Rune[0] < 0x80 && isTokenByte(byte(t.Rune[0]))
		return a
	}
	for i := 0; i+1 < len(t.Rune); i += 2 {
		for r := t.Rune[i]; r <= t.Rune[i+1]; r++ {
			if r == '\u017f' || r == '\u212a' {
				continue // what (?i) adds for s and k: no token has them
			}
			if r >= 0x80 || !isTokenByte(byte(r)) {
				a.inTokens = false
				return a
			}
		}
	}
	return a
}

// isTokenByte reports the bytes provider tokens are made of.
func isTokenByte(b byte) bool {
	return isAlnum(b) || b == '_' || b == '-' || b == '.' || b == '/' || b == '+' || b == '=' || b == '~' || b == '\\'
}

// tokenRunAfter is the length of the run of token bytes at the start of b.
func tokenRunAfter(b []byte) int {
	for i, c := range b {
		if !isTokenByte(c) {
			return i
		}
	}
	return len(b)
}

// secretGroup returns capture group n of a parsed regexp (the first if n
// is 0), or the whole regexp if there is none.
func secretGroup(t *syntax.Regexp, n int) *syntax.Regexp {
	var found *syntax.Regexp
	var walk func(*syntax.Regexp)
	walk = func(t *syntax.Regexp) {
		if found != nil {
			return
		}
		if t.Op == syntax.OpCapture && (t.Cap == n || n == 0 && t.Cap == 1) {
			found = t
			return
		}
		for _, s := range t.Sub {
			walk(s)
		}
	}
	walk(t)
	if found == nil {
		return t
	}
	return found
}

// requiredWords returns the literals (lower case, three bytes or more)
// that every match of a regexp holds, or nil.
func requiredWords(re *glregexp.Regexp) []string {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return nil
	}
	var req func(*syntax.Regexp) []string
	req = func(t *syntax.Regexp) []string {
		switch t.Op {
		case syntax.OpLiteral:
			if len(t.Rune) < 3 {
				return nil
			}
			b := make([]byte, 0, len(t.Rune))
			for _, r := range t.Rune {
				if r >= 0x80 {
					return nil
				}
				b = append(b, lowerASCII(byte(r)))
			}
			return []string{string(b)}
		case syntax.OpCapture, syntax.OpPlus:
			return req(t.Sub[0])
		case syntax.OpRepeat:
			if t.Min > 0 {
				return req(t.Sub[0])
			}
		case syntax.OpConcat:
			var out []string
			for _, s := range t.Sub {
				out = append(out, req(s)...)
			}
			return out
		case syntax.OpAlternate:
			out := req(t.Sub[0])
			for _, s := range t.Sub[1:] {
				other := req(s)
				out = slices.DeleteFunc(out, func(w string) bool { return !slices.Contains(other, w) })
			}
			return out
		}
		return nil
	}
	return req(t)
}

// hasWords reports whether b holds every word (lower case), ignoring ASCII
// case.
func hasWords(b []byte, words []string) bool {
	for _, w := range words {
		if !containsFold(b, w) {
			return false
		}
	}
	return true
}

func containsFold(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		if lowerASCII(b[i]) == w[0] && equalFold(b[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// assignmentOperator bounds where a semi-generic regexp's operator starts
// past the end of its name's keyword: [ \t\w.-]{0,20} then [\s'"]{0,3}.
// assignmentSecret bounds where its secret starts past the operator's
// start: an operator of up to four bytes (:::=), then [\x60'"\s=]{0,5}.
const (
	assignmentOperator = 23
	assignmentSecret   = 9
)

// assignmentAt returns where the operator that a semi-generic regexp needs
// after a name ending at from starts, or -1 if there is none: within
// assignmentOperator bytes, past word bytes, '.', '-', blanks (newlines
// too) and quotes only. The operators (=, >, :=, ||, :, =>, ?=, ,) start
// with one of "=>:|?,".
func assignmentAt(data []byte, from int) int {
	for i := from; i < len(data) && i <= from+assignmentOperator; i++ {
		switch b := data[i]; {
		case strings.IndexByte("=>:|?,", b) >= 0:
			return i
		case isAlnum(b) || strings.IndexByte(" \t\n\r\f_.-'\"", b) >= 0:
		default:
			return -1
		}
	}
	return -1
}

// literalView lower-cases a regexp's source and resolves the escapes of
// punctuation (`s\.` reads "s."), blanking the other escapes (\w, \b, \s)
// so that they join no word.
func literalView(src string) string {
	b := make([]byte, 0, len(src))
	for i := 0; i < len(src); i++ {
		c := src[i]
		if c == '\\' && i+1 < len(src) {
			i++
			if n := src[i]; !isAlnum(n) {
				b = append(b, n)
			} else {
				b = append(b, 0, 0)
			}
			continue
		}
		b = append(b, lowerASCII(c))
	}
	return string(b)
}

// secretGroupSpan returns where, in a regexp's source, the capture group
// that holds the secret is: group n, or the first if n is 0 (gitleaks takes
// the first non-empty group then, and it is the first in every default
// rule that has groups); the whole source if there is no such group.
func secretGroupSpan(src string, n int) (start, end int) {
	if n == 0 {
		n = 1
	}
	group, depth, open := 0, 0, -1
	inClass := false
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\\':
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
		case c == '[':
			inClass = true
			if i+1 < len(src) && src[i+1] == '^' {
				i++
			}
			if i+1 < len(src) && src[i+1] == ']' {
				i++ // a leading ] is a member
			}
		case c == '(':
			depth++
			capturing := i+1 >= len(src) || src[i+1] != '?' ||
				strings.HasPrefix(src[i:], "(?P<") || strings.HasPrefix(src[i:], "(?<")
			if capturing && open < 0 {
				if group++; group == n {
					open = depth
					start = i
				}
			}
		case c == ')':
			if depth == open {
				return start, i + 1
			}
			depth--
		}
	}
	return 0, len(src)
}

// matchesAcrossLines reports whether a regexp can match a newline with
// more of the match after it (a class or a dot that takes one, a literal
// one): a window for its keyword must then reach past the keyword's line.
// A newline as the last byte of a match (the blank that ends a secret)
// needs no more than the line: there the window's end matches as $ does.
func matchesAcrossLines(re *glregexp.Regexp) bool {
	if re == nil {
		return false
	}
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return true
	}
	return crossesLine(t, true)
}

// crossesLine reports whether t can match a newline followed by more of
// the match; last tells that nothing of the match follows t.
func crossesLine(t *syntax.Regexp, last bool) bool {
	switch t.Op {
	case syntax.OpConcat:
		for i, s := range t.Sub {
			if crossesLine(s, last && i == len(t.Sub)-1) {
				return true
			}
		}
		return false
	case syntax.OpAlternate:
		for _, s := range t.Sub {
			if crossesLine(s, last) {
				return true
			}
		}
		return false
	case syntax.OpCapture, syntax.OpQuest:
		return crossesLine(t.Sub[0], last)
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		if t.Op == syntax.OpRepeat && t.Max == 1 {
			return crossesLine(t.Sub[0], last)
		}
		// Repeated, a newline the sub-expression takes may be followed
		// by another repetition.
		return crossesLine(t.Sub[0], false)
	case syntax.OpAnyChar:
		return !last
	case syntax.OpLiteral:
		for i, r := range t.Rune {
			if r == '\n' && (!last || i < len(t.Rune)-1) {
				return true
			}
		}
	case syntax.OpCharClass:
		for i := 0; i+1 < len(t.Rune); i += 2 {
			if t.Rune[i] <= '\n' && '\n' <= t.Rune[i+1] {
				return !last
			}
		}
	}
	return false
}

// spanWindow is the lines around data[start:end] that lie within
// windowReach bytes of it (at least its own line, cut to windowReach either
// side), for rules whose matches cross lines.
func spanWindow(data []byte, start, end int) window {
	w := lineWindow(data, start, end)
	if lo := start - windowReach; lo > 0 {
		for i := lo; i < w.start; i++ {
			if data[i] == '\n' {
				w.start = i + 1
				break
			}
		}
	} else {
		w.start = 0
	}
	if hi := end + windowReach; hi < len(data) {
		for i := hi; i > w.end; i-- {
			if data[i] == '\n' {
				w.end = i
				break
			}
		}
	} else {
		w.end = len(data)
	}
	return w
}

// lineStart is the start of the line holding data[at], at most
// windowReach bytes back.
func lineStart(data []byte, at int) int {
	lo := max(0, at-windowReach)
	for i := at - 1; i >= lo; i-- {
		if data[i] == '\n' {
			return i + 1
		}
	}
	return lo
}

// lineEnd is the end of the line holding data[at], at most windowReach
// bytes on.
func lineEnd(data []byte, at int) int {
	hi := min(len(data), at+windowReach)
	for i := at; i < hi; i++ {
		if data[i] == '\n' {
			return i
		}
	}
	return hi
}
