package rules

import (
	"regexp"
	"strings"
)

//go:generate go run bigrams_gen.go

// What a value can be the secret of a secret-named key: the key says what
// kind of secret it holds, and the kind says which values can be one.

// secretKind is what a secret-named key holds.
type secretKind int

const (
	// chosenSecret is a password, passphrase or shared secret: someone
	// chose it, so any literal that is no placeholder can be one, a
	// dictionary word included (springboot, changeit, hunter2).
	chosenSecret secretKind = iota
	// issuedSecret is a token, an API or access key, key material or a
	// credentials blob: a service or a tool issued it, so it has a
	// credential's shape, never that of a field name, an enum word or
	// prose (nextToken, Marker, "or range handler").
	issuedSecret
)

// secretKindOf tells what a secret-named key holds from its last segment:
// one that names a password or a secret (password, passwd, pwd,
// passphrase, pass, keypass, storepass, secret, client-secret,
// secret-key) holds a chosen secret; one that names a token, a key or
// credentials an issued one.
func secretKindOf(key string) secretKind {
	norm := normalizeKey(lastKeySegment(key))
	for _, w := range []string{"pass", "pwd", "secret"} {
		if strings.Contains(norm, w) {
			return chosenSecret
		}
	}
	return issuedSecret
}

// lastKeySegment is the part of a dotted key that names the setting, as
// IsSecretKey reads it: after the last '.', ':' or '/', without an index.
func lastKeySegment(key string) string {
	if i := strings.LastIndexAny(key, ".:/"); i >= 0 {
		key = key[i+1:]
	}
	if i := strings.IndexByte(key, '['); i >= 0 {
		key = key[:i]
	}
	return key
}

// authSchemes are the words that may precede a token in a header-like
// value ("Bearer eyJ…").
var authSchemes = map[string]bool{"bearer": true, "basic": true, "token": true, "bot": true, "digest": true, "apikey": true}

// notCredential says why a literal under a key that names an issued
// secret cannot be one, or "" if it can: prose or an expression (words
// separated by blanks, an auth scheme aside), or an identifier (a field
// name such as NextToken, a dotted path, an enum word).
func notCredential(v string) string {
	s := v
	if i := strings.IndexByte(s, ' '); i > 0 && authSchemes[strings.ToLower(s[:i])] {
		s = strings.TrimSpace(s[i+1:])
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return "prose or an expression, not a credential"
	}
	if strings.ContainsAny(s, "(),") || strings.Contains(strings.TrimRight(s, "="), "=") && isIdentifier(s, true) {
		return "an expression, not a credential"
	}
	if len(s) < minCredential {
		return "too short for a credential"
	}
	if isIdentifier(s, false) {
		return "an identifier or field name, not a credential"
	}
	return ""
}

// minCredential is the length under which a value is no issued
// credential: tokens and keys have eight characters and more (gitleaks'
// generic rule asks for ten).
const minCredential = 8

// isIdentifier reports whether s reads as a name rather than random
// characters: words (camelCase, PascalCase, and in code snake_case,
// kebab-case, SCREAMING_CASE), joined by '.', '/' or ':', with index
// brackets ("Shards[-1]"). Its words must read as words: three letters
// and a half long on average, at most one of a single letter, at most a third
// without a vowel (abbreviations such as pkcs or Pkg; acronyms in capitals,
// GCM or NSS, count as words), and the longer ones with the vowels and
// consonant runs of a word, and one pair of letters in ten at most that
// words seldom have (commonBigrams: "pv" of Ipv6 is one). Random strings
// split into many short words without vowels, or into pairs of letters
// no word has, and fail.
//
// In code (gitleaks' generic rule on source) names carry digits:
// after letters (pkcs12, RSA2048, ed25519, v4), as many runs as half the
// words; before a word of three letters or more (2Vector); and numbers of
// their own (organizations/54321, max_bytes=65536). There '=' and '+'
// join too (is_mixin_scan=True, src1Length+src2Length), and a string
// prefix the rule took along is dropped (serialized_pb=b). Outside code,
// where the names are those of fields and settings (NextToken,
// StreamDescription.Shards[-1].ShardId, write), only '.', '/' and ':'
// join words and a digit makes s no identifier: "gamma-token-1" and
// "zoo-deleted-token" may be tokens.
func isIdentifier(s string, code bool) bool {
	if code {
		if i := strings.LastIndexByte(s, '='); i > 0 && len(s)-i <= 3 && strings.Trim(s[i+1:], "brufBRUF") == "" {
			s = s[:i]
		}
	}
	var st wordStats
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '.' || c == '/' || c == ':' || code && (c == '_' || c == '-' || c == '=' || c == '$' || c == '+'):
			if i > 0 && s[i-1] != c {
				st.separators++
			}
			i++
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 || strings.Trim(s[i+1:i+j], "-0123456789*") != "" {
				return false
			}
			i += j + 1
		case isASCIILetter(c) || isDigit(c):
			// A segment: letters and digits up to the next separator.
			j := i
			for j < len(s) && (isASCIILetter(s[j]) || isDigit(s[j])) {
				j++
			}
			if !st.segment(s[i:j], code) {
				return false
			}
			i = j
		default:
			return false
		}
	}
	// A name of several parts joined by separators (C's and LLVM's
	// gnutls_x509_crt_fmt_t, llvm.x86.avx.addsub.pd.256) may have more
	// abbreviations; random characters seldom have three separators.
	singles, noVowel := 1, 3*st.noVowel <= max(st.words, 3)
	if code && st.separators >= 3 {
		singles, noVowel = 2, 2*st.noVowel <= st.words
	}
	return st.words > 0 && st.singles <= singles && 2*st.letters >= 5*st.words &&
		noVowel && 2*st.digitRuns <= max(st.words, 2) &&
		10*st.rarePairs <= st.pairs
}

// wordStats counts the words of an identifier.
type wordStats struct {
	words, letters, singles, noVowel, digitRuns, separators int
	pairs, rarePairs                                        int // letter pairs in words, and those words seldom have
}

// segment splits a run of letters and digits into its camelCase words and
// digit runs (see isIdentifier for where digits may be).
func (st *wordStats) segment(seg string, code bool) bool {
	digits := strings.Trim(seg, "0123456789") == ""
	if !code && isDigit(seg[0]) || digits && !code {
		return false
	}
	if digits {
		return true // a number of its own
	}
	for i := 0; i < len(seg); {
		j := i
		if isDigit(seg[i]) {
			if !code {
				return false
			}
			for j < len(seg) && isDigit(seg[j]) {
				j++
			}
			if j-i > 5 {
				return false
			}
			if i == 0 {
				// Digits start the segment: a word of three letters or more
				// must follow them.
				k := j
				for k < len(seg) && isASCIILetter(seg[k]) && (k == j || !isUpper(seg[k]) || isUpper(seg[k-1])) {
					k++
				}
				if k-j < 3 {
					return false
				}
			} else {
				st.digitRuns++
			}
		} else {
			for j < len(seg) && isASCIILetter(seg[j]) {
				j++
			}
			if !camelWords(seg[i:j], st.word) {
				return false
			}
		}
		i = j
	}
	return true
}

func (st *wordStats) word(w string) bool {
	st.words++
	st.letters += len(w)
	if len(w) == 1 {
		st.singles++
	}
	acronym := len(w) <= 5 && strings.ToUpper(w) == w
	if len(w) > 1 && !hasVowel(w) && !acronym {
		st.noVowel++
	}
	if !acronym {
		for i := 0; i+1 < len(w); i++ {
			st.pairs++
			if commonBigrams[26*int(w[i]|0x20-'a')+int(w[i+1]|0x20-'a')] != '1' {
				st.rarePairs++
			}
		}
	}
	return wordLike(w)
}

func hasVowel(w string) bool { return strings.ContainsAny(w, "aeiouyAEIOUY") }

// camelWords splits letters at case changes: "nextPageToken" is next,
// Page, Token; "RSAPrivateKey" is RSA, Private, Key.
func camelWords(s string, fn func(string) bool) bool {
	start := 0
	for i := 1; i < len(s); i++ {
		lowerToUpper := isLower(s[i-1]) && isUpper(s[i])
		acronymEnd := isUpper(s[i-1]) && isUpper(s[i]) && i+1 < len(s) && isLower(s[i+1])
		if lowerToUpper || acronymEnd {
			if !fn(s[start:i]) {
				return false
			}
			start = i
		}
	}
	return fn(s[start:])
}

// wordLike reports a word of an identifier: four letters or fewer (id,
// pkcs, Pkg), an acronym in capitals of five or fewer (PBKDF), or a
// vowel in every seven letters, no run of more than four consonants and
// no letter three times in a row, as words and their abbreviations have
// (PASSWD, Padding) and random letters mostly do not (lsdajfh, kjshdfp,
// EAAAAAAB).
func wordLike(w string) bool {
	if len(w) <= 4 || len(w) <= 5 && strings.ToUpper(w) == w {
		return true
	}
	vowels, run := 0, 0
	for i := 0; i < len(w); i++ {
		if i >= 2 && w[i] == w[i-1] && w[i] == w[i-2] {
			return false
		}
		switch w[i] | 0x20 {
		case 'a', 'e', 'i', 'o', 'u', 'y':
			vowels++
			run = 0
		default:
			run++
			if run > 4 {
				return false
			}
		}
	}
	return vowels*100 >= len(w)*15
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool       { return c >= '0' && c <= '9' }
func isLower(c byte) bool       { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool       { return c >= 'A' && c <= 'Z' }

// Values that stand for something else and are no secret, whatever the
// key.
var (
	// templateToken is a build-time replacement token, $NAME$ (as
	// maven-replacer-plugin's tokens are written, '$' escaped or not),
	// or %NAME% (a Windows environment reference).
	templateToken = regexp.MustCompile(`^(?:\\?\$[A-Za-z_][A-Za-z0-9_.\-]*\\?\$|%[A-Za-z_][A-Za-z0-9_]*%)$`)
	// variableRef is a shell or OpenSSL variable ($NAME, $section::name)
	// or a command substitution standing for the value.
	variableRef = regexp.MustCompile(`^(?:\$[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)?|\$\(.*\)|` + "`.*`" + `)$`)
	// printfVerb is a format string's argument (%s, %(password)s).
	printfVerb = regexp.MustCompile(`^%(?:\([A-Za-z_][A-Za-z0-9_]*\))?[sdv]$`)
	// templateField is a template's or format string's field, {name}
	// ({__relative_name__} in gcloud's command definitions).
	templateField = regexp.MustCompile(`^\{[A-Za-z_][A-Za-z0-9_.]*\}$`)
)

// standIn says why a value stands for a secret rather than being one, or
// "": a template token, a variable, a format verb, or a comment that the
// format's reader took for the value ("secret = # disable PBM").
func standIn(v string) string {
	switch {
	case templateToken.MatchString(v):
		return "template token ($NAME$), replaced at build time"
	case variableRef.MatchString(v):
		return "variable reference"
	case printfVerb.MatchString(v), templateField.MatchString(v):
		return "format argument or template field"
	case strings.HasPrefix(v, "# ") || v == "#":
		return "a comment, not a value"
	}
	return ""
}
