package gitleaks

import (
	"bytes"
	"math"
	"slices"
	"sort"
	"strings"
	"unsafe"

	glconfig "github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	glregexp "github.com/zricethezav/gitleaks/v8/regexp"
)

// Running gitleaks over a whole file runs every rule whose keyword occurs
// anywhere in it over all of it; in source code "key" and "token" occur in
// nearly every file, and the regexps then dominate a scan. peel keeps
// gitleaks' keyword prefilter but applies it per occurrence: each keyword
// hit that could be part of a match opens a window (its line, at most
// windowReach bytes either side, and the lines a match can reach), and
// gitleaks runs on the merged windows only. For gitleaks' own provider
// rules the gate of each keyword is derived from the regexps of its rules
// (keywordUse): a keyword that is part of the token (ghp_, xoxb, s., ey)
// counts when as many token bytes follow as the regexps need there; a name
// in a semi-generic regexp (adobe, telegr, password) when an assignment
// operator follows within the regexp's reach; any other (curl, kind:
// secret) always, for rules whose matches cross lines when the words
// every match holds are near (requiredWords). For gitleaks' generic rule,
// only where the rule's grammar can match (genericGate); for a team's own
// rules, always. Windows take the lines a rule's match may cross
// (matchesAcrossLines); private key blocks are extended to their END line.
// A merged window reaches gitleaks' detector only if a regexp of a rule
// whose keyword is in it matches it (mayReport).
const (
	windowReach = 512
	// wholeFile is the size under which gitleaks runs on the whole file:
	// windows would save nothing.
	wholeFile = 4 << 10
	// maxPEMBlock bounds how far a BEGIN window extends to its END.
	maxPEMBlock = 64 << 10
)

type window struct{ start, end int }

// keywordList is gitleaks' keywords, lower-cased and sorted.
func keywordList(keywords map[string]struct{}) []string {
	list := make([]string, 0, len(keywords))
	for k := range keywords {
		list = append(list, strings.ToLower(k))
	}
	sort.Strings(list)
	return list
}

// splitRules makes up to three rule groups of a gitleaks config: gitleaks'
// own provider rules, unchanged, whose keyword hits are gated as their
// regexps need (keywordUse, hitCounts, assignmentAt); the generic rules (IDs starting "generic"), gated by
// genericGate while generic-api-key is gitleaks' own; and every other
// rule (a team's own, or a built-in one changed), whose every keyword hit
// opens a window, as nothing is known of its regexp.
//
// Rules without a regexp, which report a file by its path alone, go to a
// detector of their own (returned apart, nil if there are none), run once
// per file: in a group they would report once per window, or not at all
// in a file without one.
func splitRules(cfg, defaults glconfig.Config) ([]*ruleGroup, *keywordScanner, [][]bool, *detect.Detector) {
	parts := [4]glconfig.Config{}
	for i := range parts {
		parts[i] = cfg
		parts[i].Rules = map[string]glconfig.Rule{}
		parts[i].Keywords = map[string]struct{}{}
		parts[i].OrderedRules = nil
	}
	for _, id := range cfg.OrderedRules {
		r := cfg.Rules[id]
		p := &parts[2]
		switch def, ok := defaults.Rules[id]; {
		case r.Regex == nil:
			p = &parts[3]
		case strings.HasPrefix(id, "generic"):
			p = &parts[1]
		case ok && sameMatching(r, def):
			p = &parts[0]
		}
		p.Rules[id] = r
		p.OrderedRules = append(p.OrderedRules, id)
		for _, k := range r.Keywords {
			p.Keywords[strings.ToLower(k)] = struct{}{}
		}
	}
	var out []*ruleGroup
	all := map[string]struct{}{}
	var sets []map[string]struct{}
	var pathOnly *detect.Detector
	if len(parts[3].Rules) > 0 {
		pathOnly = detect.NewDetector(parts[3])
	}
	for i, p := range parts[:3] {
		if len(p.Rules) == 0 {
			continue
		}
		g := &ruleGroup{det: detect.NewDetector(p), provider: i == 0}
		for k := range p.Keywords {
			all[k] = struct{}{}
		}
		sets = append(sets, p.Keywords)
		if i == 1 {
			own, ok := cfg.Rules["generic-api-key"]
			def, dok := defaults.Rules["generic-api-key"]
			g.generic = len(p.Rules) == 1 && ok && dok && own.Regex != nil && sameMatching(own, def)
			g.entropy = own.Entropy
			g.secretAllowlists = secretAllowlists(own.Allowlists, cfg.Allowlists)
			g.lettersOnly = slices.ContainsFunc(g.secretAllowlists, func(a *glconfig.Allowlist) bool {
				return slices.ContainsFunc(a.Regexes, func(re *glregexp.Regexp) bool { return re.String() == lettersOnlyRegexp })
			})
		}
		out = append(out, g)
	}
	keywords := keywordList(all)
	inGroup := make([][]bool, len(keywords))
	for i, k := range keywords {
		inGroup[i] = make([]bool, len(out))
		for g, set := range sets {
			_, inGroup[i][g] = set[k]
		}
	}
	index := map[string]int{}
	for i, k := range keywords {
		index[k] = i
	}
	for _, g := range out {
		g.byKeyword = make([][]*glregexp.Regexp, len(keywords))
		g.gates = make([]uint8, len(keywords))
		g.runs = make([]int, len(keywords))
		for i := range g.runs {
			g.runs[i] = maxRun
		}
		g.spans = make([]uint8, len(keywords))
		g.needs = make([][][]string, len(keywords))
		g.lineToo = make([]bool, len(keywords))
		g.assigns = make([]bool, len(keywords))
		for _, id := range g.det.Config.OrderedRules {
			r := g.det.Config.Rules[id]
			if len(r.Keywords) == 0 {
				g.always = true
			}
			span := spanOf(r)
			var words []string
			if span == spanLines {
				words = requiredWords(r.Regex)
			}
			for _, k := range r.Keywords {
				k = strings.ToLower(k)
				ki := index[k]
				g.byKeyword[ki] = append(g.byKeyword[ki], r.Regex)
				gate, run := keywordUse(r, k)
				g.gates[ki] = max(g.gates[ki], gate)
				g.assigns[ki] = g.assigns[ki] || gate == gateAssignment
				g.runs[ki] = min(g.runs[ki], run)
				g.spans[ki] = max(g.spans[ki], span)
				if span == spanLines {
					g.needs[ki] = append(g.needs[ki], slices.DeleteFunc(slices.Clone(words), func(w string) bool { return strings.Contains(k, w) }))
				} else {
					g.lineToo[ki] = true
				}
			}
		}
	}
	return out, newKeywordScanner(keywords), inGroup, pathOnly
}

// sameMatching reports whether a rule matches as the built-in one does:
// same regexp, path, keywords, secret group and entropy (allowlists,
// which only drop findings, aside).
func sameMatching(r, def glconfig.Rule) bool {
	str := func(re *glregexp.Regexp) string {
		if re == nil {
			return ""
		}
		return re.String()
	}
	return str(r.Regex) == str(def.Regex) && str(r.Path) == str(def.Path) && r.SecretGroup == def.SecretGroup &&
		r.Entropy == def.Entropy && slices.Equal(r.Keywords, def.Keywords)
}

// mayReport tells whether gitleaks' detector could report anything in a
// window (seg, also as segBytes): a rule of the group whose keyword is in
// it has a regexp that matches it, or the group has a rule without
// keywords (rules without a regexp are in no group: see splitRules). The
// detector's own work per call (its logger, keyword map and prefilter,
// per-rule allowlists) costs more than these regexps, on the many windows
// of source code that hold a keyword and no secret.
func (g *ruleGroup) mayReport(k *keywordScanner, seg string, segBytes []byte) bool {
	if g.always {
		return true
	}
	found := false
	var tried []*glregexp.Regexp
	k.scan(segBytes, func(_, ki int) {
		if found {
			return
		}
		for _, re := range g.byKeyword[ki] {
			if slices.Contains(tried, re) {
				continue
			}
			tried = append(tried, re)
			if re.MatchString(seg) {
				found = true
				return
			}
		}
	})
	return found
}

// hoistPathAllowlists splits gitleaks' global allowlists for per-window
// detection. gitleaks checks every global allowlist's paths on each Detect
// call, before any rule runs, and peel calls Detect once per window: a
// file with a thousand windows had its path matched against the allowlist's
// regexps a thousand times. An allowlist whose condition is OR skips the
// whole fragment when its path matches, and uses its paths nowhere else, so
// its paths move to the engine, which checks them once per file; the
// detectors keep a copy without them (dropped when nothing else is left).
// AND allowlists combine paths with per-finding checks and stay as they
// are.
func hoistPathAllowlists(global []*glconfig.Allowlist) (perCall, byPath []*glconfig.Allowlist) {
	for _, a := range global {
		if a.MatchCondition != glconfig.AllowlistMatchOr || len(a.Paths) == 0 {
			perCall = append(perCall, a)
			continue
		}
		byPath = append(byPath, a)
		if len(a.Commits) == 0 && len(a.Regexes) == 0 && len(a.StopWords) == 0 {
			continue
		}
		rest := &glconfig.Allowlist{Description: a.Description, MatchCondition: a.MatchCondition, Commits: a.Commits,
			RegexTarget: a.RegexTarget, Regexes: a.Regexes, StopWords: a.StopWords}
		if err := rest.Validate(); err != nil {
			// Cannot happen (rest has a check); keep gitleaks' own.
			perCall = append(perCall, a)
			continue
		}
		perCall = append(perCall, rest)
	}
	return perCall, byPath
}

// pathAllowed reports a file that gitleaks' global allowlists skip by its
// path.
func (e *Engine) pathAllowed(name string) bool {
	for _, a := range e.pathAllowlists {
		if a.PathAllowed(name) {
			return true
		}
	}
	return false
}

// gitleaksWindows runs each rule group's detector on the windows of data
// around its keyword hits, with lines counted in data.
func (e *Engine) gitleaksWindows(name string, data []byte, c *collector) {
	wins := make([][]window, len(e.groups))
	e.keywords.scan(data, func(start, pattern int) {
		kw := e.keywords.keywords[pattern]
		var line window
		opened := false
		for gi, g := range e.groups {
			if !e.inGroup[pattern][gi] {
				continue
			}
			secretEnd := -1
			switch {
			case g.generic:
				if secretEnd = g.genericGate(data, start+len(kw)); secretEnd < 0 {
					continue
				}
				// The gate stops at windowReach; the secret runs on (an
				// unbounded base64 alternative).
				for limit := min(len(data), start+maxToken); secretEnd < limit && isSecretByte(data[secretEnd]); {
					secretEnd++
				}
			case g.provider:
				switch g.gates[pattern] {
				case gatePrefix:
					if !hitCounts(data, start, len(kw), g.runs[pattern]) {
						continue
					}
					// The window follows the token to its end.
					from := start + len(kw)
					secretEnd = from + tokenRunAfter(data[from:min(len(data), from+maxToken)])
				case gateAssignment:
					if secretEnd = assignmentAt(data, start+len(kw)); secretEnd < 0 {
						continue
					}
					// Where its secret starts at the latest.
					secretEnd += assignmentSecret
				case gateOpen:
					// An open keyword that also names a secret in a
					// semi-generic regexp: its lines as for gateAssignment.
					if g.assigns[pattern] {
						if op := assignmentAt(data, start+len(kw)); op >= 0 {
							secretEnd = op + assignmentSecret
						}
					}
				}
			}
			if !opened {
				line, opened = lineWindow(data, start, start+len(kw)), true
				if kw == "-----begin" {
					line.end = pemEnd(data, line.end)
				}
			}
			w := line
			switch {
			case g.generic:
			case g.spans[pattern] == spanLines:
				// Matches may cross lines: the lines around the hit,
				// if a rule's words are in them.
				s := spanWindow(data, start, start+len(kw))
				switch {
				case slices.ContainsFunc(g.needs[pattern], func(words []string) bool { return hasWords(data[s.start:s.end], words) }):
					w = window{min(w.start, s.start), max(w.end, s.end)}
					// And the next line to its end, which the match may
					// start within reach and run on (a long base64 value).
					from := w.end
					if from < len(data) && data[from] == '\n' {
						from++
					}
					if i := bytes.IndexByte(data[from:min(len(data), from+maxToken)], '\n'); i >= 0 {
						w.end = from + i
					} else {
						w.end = min(len(data), from+maxToken)
					}
				case !g.lineToo[pattern]:
					continue
				}
			case g.spans[pattern] == spanAssignment && g.gates[pattern] == gatePrefix:
				// A token after a name and operator, which may be on
				// the lines above.
				w.start = min(w.start, lineStart(data, max(0, start-assignmentOperator-assignmentSecret-1)))
			}
			if secretEnd > w.end {
				// The secret may start on one of the next lines.
				w.end = lineEnd(data, min(secretEnd, len(data)-1))
			}
			wins[gi] = append(wins[gi], w)
		}
	})
	var skip pathVerdict
	for gi, g := range e.groups {
		if len(wins[gi]) == 0 {
			continue
		}
		line, at := 1, 0
		for _, w := range mergeWindows(wins[gi]) {
			// With the newlines around it, gitleaks' ^, $, \b and \s see
			// the window's first and last lines end as in the whole file
			// (sidekiq-sensitive-url's (?:[/#?:]|$) does not match
			// before a newline).
			if w.start > 0 && data[w.start-1] == '\n' {
				w.start--
			}
			if w.end < len(data) && data[w.end] == '\n' {
				w.end++
			}
			seg := unsafe.String(unsafe.SliceData(data[w.start:w.end]), w.end-w.start)
			if !g.mayReport(e.keywords, seg, data[w.start:w.end]) {
				continue
			}
			line += countNewlines(data[at:w.start])
			at = w.start
			//lint:ignore SA1019 gitleaks v8's Detect takes detect.Fragment.
			fs := inReportOrder(g.det.Detect(detect.Fragment{Raw: seg, FilePath: name}))
			if len(fs) > 0 && skip.allowed(e, name) {
				return
			}
			for _, f := range fs {
				e.addGitleaks(f.RuleID, f.Description, f.Tags, line+f.StartLine, strings.Clone(f.Secret), c)
			}
		}
	}
}

// genericGate checks the conditions without which gitleaks' generic-api-key
// cannot report a hit of its keyword ending at from. The rule reads
//
//	KEYWORD [ \t\w.-]{0,20} [\s'"]{0,3} OPERATOR [`'"\s=]{0,5} SECRET TERMINATOR
//
// so the operator is the first of =:>|?, within 24 bytes. The secret's
// characters ([\w.=+/-]) include no terminator (quote, blank, ';', a
// literal \n or \r, the end of the text), so the secret ends where the run
// of those characters after the operator ends, and that end must be
// followed by a terminator; it starts where the quotes, blanks and '='
// after the operator end, or on one of those '=' (which are secret
// characters too). Of those few candidates one must be 10 or more long,
// have an entropy over the rule's, and not be dropped by an allowlist that
// looks at the secret alone (the rule's "only letters" regexp and
// stopwords, gitleaks' global ones). A run that reaches the window's
// reach passes: there the window's end is a terminator too. The blanks
// before and after the operator (\s) may be newlines. It returns where the
// secret ends, or -1 if the rule cannot report the hit.
func (g *ruleGroup) genericGate(data []byte, from int) int {
	i := from
	for limit := min(len(data), from+24); i < limit; i++ {
		b := lowerASCII(data[i])
		if b == '=' || b == ':' || b == '>' || b == ',' || b == '|' || b == '?' {
			break
		}
		if !(b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\f' || b == '.' || b == '-' || b == '_' || b == '"' || b == '\'' ||
			b >= 'a' && b <= 'z' || b >= '0' && b <= '9') {
			return -1
		}
	}
	if i >= len(data) || i >= from+24 {
		return -1
	}
	op := i
	for i < len(data) && i < from+40 && strings.IndexByte("=:>|?,`'\" \t\n\r\f", data[i]) >= 0 {
		i++
	}
	first := i
	for first > op+1 && data[first-1] == '=' {
		first--
	}
	j := i
	for j < len(data) && isSecretByte(data[j]) {
		if j++; j-from >= windowReach {
			return j
		}
	}
	if j < len(data) && strings.IndexByte("`'\"; \t\n\f\r", data[j]) < 0 &&
		!(data[j] == '\\' && j+1 < len(data) && (data[j+1] == 'n' || data[j+1] == 'r')) {
		return -1
	}
	for s := i; s >= first; s-- {
		sec := data[s:j]
		if !secretShape(sec) || g.lettersOnly && isLettersOnly(sec) || entropy(sec) <= g.entropy-1e-9 {
			continue
		}
		// The string does not outlive the allowlist checks.
		if !g.secretAllowed(unsafe.String(unsafe.SliceData(sec), len(sec))) {
			return j
		}
	}
	return -1
}

// secretShape reports whether the whole of sec matches one of the
// alternatives of generic-api-key's secret: [\w.=-]{10,150}, or
// [a-z0-9][a-z0-9+/]{11,}={0,3} (case-insensitive).
func secretShape(sec []byte) bool {
	if len(sec) < 10 {
		return false
	}
	if len(sec) <= 150 && bytes.IndexByte(sec, '+') < 0 && bytes.IndexByte(sec, '/') < 0 {
		return true
	}
	body := bytes.TrimRight(sec, "=")
	if len(sec)-len(body) > 3 || len(body) < 12 || !isAlnum(body[0]) {
		return false
	}
	for _, b := range body {
		if !isAlnum(b) && b != '+' && b != '/' {
			return false
		}
	}
	return true
}

func isAlnum(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// isSecretByte reports the characters of generic-api-key's secret.
func isSecretByte(b byte) bool {
	return isAlnum(b) || b == '_' || b == '.' || b == '-' || b == '=' || b == '+' || b == '/'
}

// lettersOnlyRegexp is generic-api-key's allowlist of secrets made of
// letters and "_.-" only; isLettersOnly is the same test without a regexp.
const lettersOnlyRegexp = `^[a-zA-Z_.-]+$`

func isLettersOnly(b []byte) bool {
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return len(b) > 0
}

// secretAllowed reports a secret that one of the group's secret
// allowlists drops.
func (g *ruleGroup) secretAllowed(secret string) bool {
	for _, a := range g.secretAllowlists {
		if a.RegexAllowed(secret) {
			return true
		}
		if ok, _ := a.ContainsStopWord(secret); ok {
			return true
		}
	}
	return false
}

// secretAllowlists are the OR allowlists among lists whose regexps, if
// any, look at the secret: what they allow, gitleaks drops whatever the
// file and line.
func secretAllowlists(lists ...[]*glconfig.Allowlist) []*glconfig.Allowlist {
	var out []*glconfig.Allowlist
	for _, l := range lists {
		for _, a := range l {
			if a.MatchCondition != glconfig.AllowlistMatchOr {
				continue
			}
			if a.RegexTarget != "" && a.RegexTarget != "secret" {
				if len(a.StopWords) == 0 {
					continue
				}
				// Its stopwords alone still drop a secret.
				a = &glconfig.Allowlist{MatchCondition: glconfig.AllowlistMatchOr, StopWords: a.StopWords}
				if a.Validate() != nil {
					continue
				}
			}
			out = append(out, a)
		}
	}
	return out
}

// entropy is the Shannon entropy of b in bits per byte, as gitleaks
// measures a secret's.
func entropy(b []byte) float64 {
	if len(b) == 0 {
		return 0
	}
	// H = log2(n) - Σ k·log2(k) / n over the counts k, summed over b's own
	// bytes (each count cleared as it is taken): no pass over all 256
	// counters, and the k·log2(k) from a table for the short strings
	// secrets are.
	var counts [256]uint32
	for _, c := range b {
		counts[c]++
	}
	sum := 0.0
	for _, c := range b {
		if k := counts[c]; k > 0 {
			sum += kLog2K(k)
			counts[c] = 0
		}
	}
	n := len(b)
	return kLog2K(uint32(n))/float64(n) - sum/float64(n)
}

// kLog2Table holds k·log2(k) for small k.
var kLog2Table = func() (t [1024]float64) {
	for k := 1; k < len(t); k++ {
		t[k] = float64(k) * math.Log2(float64(k))
	}
	return t
}()

func kLog2K(k uint32) float64 {
	if int(k) < len(kLog2Table) {
		return kLog2Table[k]
	}
	return float64(k) * math.Log2(float64(k))
}

// hitCounts decides whether a hit at data[start:start+n] of a keyword that
// is part of a token can be in a match: as many token bytes as its rules'
// regexps need there must follow it (AKIA+16, ghp_+36, s.+24, a JWT
// segment 17+, none after _mmk or -----begin): see keywordUse.
func hitCounts(data []byte, start, n, run int) bool {
	return tokenRunAfter(data[start+n:min(len(data), start+n+run)]) >= run
}

// lineWindow is the line holding data[start:end], cut to windowReach bytes
// either side.
func lineWindow(data []byte, start, end int) window {
	lo := max(0, start-windowReach)
	for i := start - 1; i >= lo; i-- {
		if data[i] == '\n' {
			lo = i + 1
			break
		}
	}
	hi := min(len(data), end+windowReach)
	for i := end; i < hi; i++ {
		if data[i] == '\n' {
			hi = i
			break
		}
	}
	return window{lo, hi}
}

// pemEnd extends a window holding "-----begin" past the next "-----end"
// line (either case), within maxPEMBlock.
func pemEnd(data []byte, from int) int {
	limit := min(len(data), from+maxPEMBlock)
	for at := from; ; {
		i := bytes.Index(data[at:limit], []byte("-----"))
		if i < 0 {
			return limit
		}
		at += i + 5
		if at+3 <= limit && equalFold(data[at:at+3], "end") {
			end := at
			for end < len(data) && data[end] != '\n' {
				end++
			}
			return end
		}
	}
}

func mergeWindows(ws []window) []window {
	sort.Slice(ws, func(i, j int) bool { return ws[i].start < ws[j].start })
	out := ws[:1]
	for _, w := range ws[1:] {
		last := &out[len(out)-1]
		if w.start <= last.end+1 {
			last.end = max(last.end, w.end)
			continue
		}
		out = append(out, w)
	}
	return out
}

func countNewlines(b []byte) int { return bytes.Count(b, newline) }

var newline = []byte{'\n'}
