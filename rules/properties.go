package rules

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/magiconair/properties"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// propertiesFiles reads Java .properties files.
type propertiesFiles struct{}

func (propertiesFiles) Info() Info {
	const f = "/app/application.properties"
	return Info{Name: "properties", Version: 2, Format: true, Rules: []Rule{
		configSecret.with(
			file("/app.jar!BOOT-INF/classes/application.properties", bookV1Properties,
				at(3, "server.ssl.key-store-password", "springboot"), at(6, "spring.security.oauth.jwt.keystore.password", "springboot")),
			file(f, "server.ssl.key-store-password: ${KEYSTORE_SECRET}\nspring.security.oauth.jwt.keystore.password: ${JWT_KEYSTORE_SECRET}\n"),
			file(f, "spring.datasource.password=${DB_PASSWORD:}\n"),
			file(f, "spring.datasource.password=${DB_PASSWORD:${FALLBACK}}\n"),
			file(f, "spring.datasource.password=ENC(G6N718UuyPE5bHyWKyuLQSm02auQPUtm)\n"),
			file(f, "spring.datasource.password={cipher}FKSAJDFGYOS8F7GLHAKERGFHLSAJ\n"),
			file(f, "spring.datasource.password=\nspring.mail.password:   \n"),
			file(f, "password.label=Password\nlogin.password=Password:\nform.password=Enter your password\n"),
			file(f, "form.password=Password\nform.secret=Secret\n"),
			file(f, "db.password=password\n", at(1, "db.password", "password")),
			file(f, "server.ssl.key-store=/opt/keystore.jks\nserver.ssl.key-alias=spring\nspring.security.oauth.jwt.keystore.name=/opt/jwt.jks\ntoken.validity-seconds=3600\n"),
			file(f, "spring.datasource.password=@db.password@\n"),
			file(f, "app.admin.password=********\n"),
			file(f, "a.password = hunter2-alpha\nb.secret:beta-secret-1\nc.token\tgamma-token-1\n",
				at(1, "a.password", "hunter2-alpha"), at(2, "b.secret", "beta-secret-1"), at(3, "c.token", "gamma-token-1")),
			file(f, "# comment\napp.client-secret=abc\\\n    def\nother=1\n", at(2, "app.client-secret", "abcdef")),
			file(f, "x=1\r\nAPP.\\\r\n  DB_PASSWORD=crlf-pw-1\r\nother=2\r\n", at(2, "APP.DB_PASSWORD", "crlf-pw-1")),
			file(f, "a=1\rdb.password=cr-only-pw\rb=2", at(2, "db.password", "cr-only-pw")),
			file(f, "# the password is elsewhere\nname=value-one\n"),
			file(f, "# app.password=commented\\\napp.password=live-one\n", at(2, "app.password", "live-one")),
			file(f, "db.pwd=p\\u00e4ss-w0rd\n", at(1, "db.pwd", "päss-w0rd")),
			file(f, "x.password=first-one\nx.password=second-one\n", at(1, "x.password", "first-one"), at(2, "x.password", "second-one")),
			file(f, "a=1\r\nspring.rabbitmq.password=guest-guest\r\n", at(2, "spring.rabbitmq.password", "guest-guest")),
			file(f, "aws.secret-key=AKfakefakefake\nmy.api_key=k-123456\ntrust-store-password=changeit\n",
				at(1, "aws.secret-key", "AKfakefakefake"), at(2, "my.api_key", "k-123456"), at(3, "trust-store-password", "changeit")),
			file(f, "oauth.token=https://idp.example/token\nmail.password=smtp://user:pw@host\n", at(2, "mail.password", "smtp://user:pw@host")),
			file(f, "server.ssl.private-key=classpath:tls/key.pem\n"),
			file(f, "security.password-encoder.class=org.example.BCryptPasswordEncoder\napp.token.provider=com.example.auth.TokenProvider\n"),
			file("/app/messages_fr.properties", "login.password=Mot de passe\nlogin.secret=Secret partagé\n"),
			// Keys as Java reads them: \u escapes and other escapes,
			// continuations inside a word, every separator.
			file(f, "db.p\\u0061ssword=esc-pw-1\n\\u0073pring.mail.p\\u0061\\u0073\\u0073word=esc-pw-2\napp.p\\assword=esc-pw-3\n",
				at(1, "db.password", "esc-pw-1"), at(2, "spring.mail.password", "esc-pw-2"), at(3, "app.password", "esc-pw-3")),
			file(f, "a=1\ndb.pa\\\n    ssword=cont-pw-1\napp.api-\\\n  key = cont-key-1\n", at(2, "db.password", "cont-pw-1"), at(4, "app.api-key", "cont-key-1")),
			file(f, "d.password delta-pw-1\ne.password : epsilon-pw-1\n\tf.secret\f=zeta-secret-1\n",
				at(1, "d.password", "delta-pw-1"), at(2, "e.password", "epsilon-pw-1"), at(3, "f.secret", "zeta-secret-1")),
			file(f, "db.p\\u0061th=/var/lib/db\napp.t\\u006Fken.ttl=3600\n\\u0070assword.label=Password\n"),
			file(f, "k\\u00zz.url=not-read\nmsg=caf\\u00e9\n"),
			// Latin-1 bytes, as Java's Properties.load reads a file.
			file(f, "# Kennw\xf6rter\ndb.password=p\xe4ss-latin1-1\n", at(2, "db.password", "p\u00e4ss-latin1-1")),
			// UTF-16 with a byte order mark, little and big endian.
			file(f, utf16("a=1\r\nb=2\r\ndb.password=utf16-le-pw\r\n", false), at(3, "db.password", "utf16-le-pw")),
			file(f, utf16("db.password=utf16-be-pw\n", true), at(1, "db.password", "utf16-be-pw")),
			file("/app/messages.properties", utf16("password.label=Password\r\nlogin.password=Enter your password\r\n", false)),
			// Spring's relaxed names.
			file(f, "spring-datasource-password=kebab-pw-1\nSPRING_MAIL_PASSWORD=upper-pw-1\nspring.rabbitmq.Password=camel-pw-1\n",
				at(1, "spring-datasource-password", "kebab-pw-1"), at(2, "SPRING_MAIL_PASSWORD", "upper-pw-1"), at(3, "spring.rabbitmq.Password", "camel-pw-1")),
		),
		configSecretDefault.with(
			file(f, "spring.datasource.password=${DB_PASSWORD:s3cr3t-default}\n", at(1, "spring.datasource.password", "s3cr3t-default")),
			file(f, "spring.datasource.password=${DB_PASSWORD}\n"),
		),
	}}
}

func (propertiesFiles) Applies(path []string) bool {
	return hasSuffixFold(fileName(path), ".properties")
}

func (propertiesFiles) Detect(f *File, c *Collector) { scanProperties(f.Data, c) }

// bookV1Properties is the book's listing of the v1 jar's
// BOOT-INF/classes/application.properties.
const bookV1Properties = `server.port: 8443
server.ssl.key-store: /opt/keystore.jks
server.ssl.key-store-password: springboot
server.ssl.keyAlias: spring
spring.security.oauth.jwt: true
spring.security.oauth.jwt.keystore.password: springboot
spring.security.oauth.jwt.keystore.alias: jwtkey
spring.security.oauth.jwt.keystore.name: /opt/jwt.jks
`

// keyHints are lower-case fragments one of which every secret-named key
// holds as Java reads it; with the keystore suffixes (a value that names a
// keystore links a password to it) and backslashes (below), they are what
// makes a logical line worth parsing: a line without any is not parsed at
// all.
var keyHints = [][]byte{[]byte("pass"), []byte("pwd"), []byte("secret"), []byte("token"), []byte("credential"), []byte("key")}

// ScanProperties finds secrets in a Java .properties file. Each logical line
// (continuation lines joined) that could hold a secret-named key is parsed
// on its own by magiconair/properties, which owns the syntax as
// java.util.Properties defines it (separators '=', ':' or blanks, escapes,
// \uXXXX in keys and values); parsing line by line keeps line numbers,
// which the library does not report, and keeps duplicate keys, of which it
// keeps only the last. A file that is not UTF-8 is read as ISO-8859-1, as
// Properties.load reads every file (a UTF-8 file is read as UTF-8, as
// Java 9's resource bundles read one).
func ScanProperties(data []byte) ([]Finding, error) {
	var c Collector
	scanProperties(data, &c)
	r := c.finish()
	return r.Findings, firstIncomplete(r)
}

// firstIncomplete is the first part of a file that could not be read, as
// an error.
func firstIncomplete(r Result) error {
	if len(r.Incomplete) == 0 {
		return nil
	}
	return errors.New(r.Incomplete[0].Reason)
}

// hintScanner finds the key hints and keystore suffixes, in either case.
var hintScanner = func() *textscan.Scanner {
	hints := make([]string, 0, len(keyHints)+len(keystoreSuffixes))
	for _, h := range keyHints {
		hints = append(hints, string(h))
	}
	return textscan.New(append(hints, keystoreSuffixes...))
}()

// appendBackslashes adds to hints the backslashes that sit in keys. Java
// reads a key through its escapes and continuations, so a secret-named key
// need not hold a hint as written: db.p\u0061ssword, db.p\assword, or
// db.pa\ at a line's end continued by ssword are all db.password. The
// first backslash of a line is in its key if no separator ('=', ':' or a
// blank) comes before it (before it nothing is escaped) and the line is
// no comment; it is then a hint, and the line is parsed. A backslash in a
// value (a Windows path, an escaped character) is passed over: a file of
// those costs one look per line. A line that ends in a backslash may
// continue onto the next, which may complete a hint: its last backslash is
// a hint too, and continued reports it. (A continuation line is looked at
// as if it started a key: at worst one more line is parsed.)
func appendBackslashes(hints []int, data []byte, hasCR bool) (_ []int, continued bool) {
	lineStart := 0
	for at := 0; at < len(data); {
		i := bytes.IndexByte(data[at:], '\\')
		if i < 0 {
			break
		}
		bs := at + i
		if j := lastLineBreak(data[at:bs], hasCR); j >= 0 {
			lineStart = at + j + 1
		}
		inKey := backslashInKey(data[lineStart:bs])
		if inKey {
			hints = append(hints, bs)
		}
		// The line's later backslashes are not in its key if its first
		// is not, and are hints enough if it is: on to the next line.
		var end int
		if hasCR {
			end = indexLineEnd(data[bs:])
		} else {
			end = bytes.IndexByte(data[bs:], '\n')
		}
		if end < 0 {
			end = len(data)
		} else {
			end += bs
		}
		if data[end-1] == '\\' {
			// The line may continue: what follows may complete a hint
			// (a keystore suffix cut in two), so the logical line is
			// parsed.
			continued = true
			if !inKey {
				hints = append(hints, end-1)
			}
		}
		at = end + 1
		lineStart = at
	}
	return hints, continued
}

// lastLineBreak is the index of the last line break in b ('\n', or '\r'
// too when the file has carriage returns), or -1.
func lastLineBreak(b []byte, hasCR bool) int {
	i := bytes.LastIndexByte(b, '\n')
	if hasCR {
		i = max(i, bytes.LastIndexByte(b, '\r'))
	}
	return i
}

// backslashInKey reports whether a backslash after prefix (its line up to
// it) is in the line's key.
func backslashInKey(prefix []byte) bool {
	prefix = trimBlanks(prefix)
	if len(prefix) > 0 && (prefix[0] == '#' || prefix[0] == '!') {
		return false
	}
	for _, b := range prefix {
		switch b {
		case '=', ':', ' ', '\t', '\f':
			return false
		}
	}
	return true
}

func scanProperties(data []byte, c *Collector) {
	// Where the hints are, found in one pass; a logical line is parsed only
	// if one starts within it (no hint holds a line break).
	var hints []int
	hintScanner.Scan(data, func(start, _ int) { hints = append(hints, start) })
	hasCR := bytes.IndexByte(data, '\r') >= 0
	hints, continued := appendBackslashes(hints, data, hasCR)
	if len(hints) == 0 {
		return
	}
	sort.Ints(hints)
	loader := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	if !utf8.Valid(data) {
		loader.Encoding = properties.ISO_8859_1
	}
	var malformed malformedLines
	defer malformed.report(c)
	next := 0
	hinted := func(from, to int) bool {
		for next < len(hints) && hints[next] < from {
			next++
		}
		return next < len(hints) && hints[next] < to
	}
	// keyHinted: a hint starts within the key of the line in data[ks:ke].
	keyHinted := func(ks, ke int) bool {
		for i := next; i < len(hints) && hints[i] < ke; i++ {
			if hints[i] >= ks {
				return true
			}
		}
		return false
	}
	parse := func(line []byte, lineNo, from, to int) {
		if !hinted(from, to) {
			return
		}
		// A line of its own (line is data[to-len(line):to]) is parsed only
		// if a hint is in its key, where a secret-named key has it, or if
		// its value may name a keystore (for linking): a hint in a value
		// alone yields nothing.
		if to-from >= len(line) && bytes.IndexByte(data[from:to], '\n') < 0 && bytes.IndexByte(data[from:to], '\r') < 0 {
			ks := to - len(line)
			if !keyHinted(ks, ks+propertyKeyEnd(line)) && !hasKeystoreSuffix(line) {
				return
			}
		}
		loadProperty(loader, line, lineNo, c, &malformed)
	}
	if hasCR || continued {
		forEachLogicalLine(data, hinted, parse)
		return
	}
	// No carriage return and no line that may continue: each line is a
	// logical line, and only the lines where hints start are looked at.
	nl := []byte{'\n'}
	lineNo, at, done := 1, 0, 0
	for _, h := range hints {
		if h < done {
			continue // on a line already handled
		}
		start := bytes.LastIndexByte(data[:h], '\n') + 1
		end := bytes.IndexByte(data[h:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += h
		}
		lineNo += bytes.Count(data[at:start], nl)
		at, done = start, end
		line := trimBlanks(data[start:end])
		if len(line) > 0 && line[0] != '#' && line[0] != '!' {
			parse(line, lineNo, start, end)
		}
	}
}

// loadProperty parses one logical line and judges its entry; a line that
// does not parse is counted as malformed if its key may name a secret.
func loadProperty(loader properties.Loader, line []byte, lineNo int, c *Collector, malformed *malformedLines) {
	p, err := loader.LoadBytes(line)
	if err != nil {
		if malformedKeyMatters(loader, line) {
			malformed.add(lineNo)
		}
		return
	}
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		c.KeyValue(RuleConfigSecret, k, v, lineNo)
	}
}

// malformedKeyMatters reports whether a line that does not parse (a bad
// \uXXXX escape) hides a secret-named key: its key is read alone, and a
// key that does not read either may be one. A malformed value under a key
// that names no secret loses nothing, and is not reported.
func malformedKeyMatters(loader properties.Loader, line []byte) bool {
	end := propertyKeyEnd(line)
	p, err := loader.LoadBytes(append(line[:end:end], '='))
	if err != nil {
		return true
	}
	for _, k := range p.Keys() {
		if IsSecretKey(k) {
			return true
		}
	}
	return false
}

// malformedLines counts the lines of a file that do not parse; the first
// is reported, with a count of the others.
type malformedLines struct{ count, first int }

func (m *malformedLines) add(lineNo int) {
	if m.count == 0 {
		m.first = lineNo
	}
	m.count++
}

func (m *malformedLines) report(c *Collector) {
	if m.count == 0 {
		return
	}
	reason := fmt.Sprintf("line %d: malformed property, not read", m.first)
	if m.count > 1 {
		reason += fmt.Sprintf(" (nor %d more malformed lines)", m.count-1)
	}
	c.Incomplete(m.first, reason)
}

// propertyKeyEnd is where the key of a properties line (leading blanks
// trimmed) ends: at the first '=', ':' or blank not escaped by a backslash.
func propertyKeyEnd(line []byte) int {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '=', ':', ' ', '\t', '\f':
			return i
		}
	}
	return len(line)
}

// hasKeystoreSuffix reports a line that ends (trailing blanks aside) as a
// keystore path does.
func hasKeystoreSuffix(line []byte) bool {
	for len(line) > 0 && (line[len(line)-1] == ' ' || line[len(line)-1] == '\t' || line[len(line)-1] == '\f') {
		line = line[:len(line)-1]
	}
	for _, s := range keystoreSuffixes {
		if len(line) >= len(s) && textscan.EqualFold(line[len(line)-len(s):], s) {
			return true
		}
	}
	return false
}

// forEachLogicalLine calls fn with every logical line of a properties file
// that is not blank or a comment (continued lines joined), the number of
// its first physical line, and the byte range of its physical lines in
// data. A line continues onto the next when it ends in an odd number of
// backslashes; comment lines never continue. A logical line of one
// physical line is a slice of data, not a copy. wanted, when not nil, is
// asked first about each line that is a logical line by itself; one it
// does not want is passed over without being looked at.
func forEachLogicalLine(data []byte, wanted func(from, to int) bool, fn func(line []byte, lineNo, from, to int)) {
	lineNo := 0
	var (
		logical []byte
		joined  bool // logical is a copy joining continued lines
	)
	hasCR := bytes.IndexByte(data, '\r') >= 0
	start, from, at := 0, 0, 0
	for at < len(data) {
		physStart, end, next := at, len(data), len(data)
		if hasCR {
			if i := indexLineEnd(data[at:]); i >= 0 {
				end, next = at+i, at+i+1
				if data[end] == '\r' && next < len(data) && data[next] == '\n' {
					next++
				}
			}
		} else if i := bytes.IndexByte(data[at:], '\n'); i >= 0 {
			end, next = at+i, at+i+1
		}
		at = next
		lineNo++
		phys := data[physStart:end]
		if logical == nil && wanted != nil && (len(phys) == 0 || phys[len(phys)-1] != '\\') && !wanted(physStart, end) {
			continue
		}
		if logical == nil {
			trimmed := trimBlanks(phys)
			if len(trimmed) == 0 || trimmed[0] == '#' || trimmed[0] == '!' {
				continue
			}
			start, from, joined = lineNo, physStart, false
			logical = trimmed
		} else {
			logical = append(logical, trimBlanks(phys)...)
		}
		if trailingBackslashes(phys)%2 == 1 {
			// As Java joins them: the backslash, the line break and the
			// next line's leading blanks go, in keys as in values.
			if !joined {
				logical, joined = append([]byte(nil), logical...), true
			}
			logical = logical[:len(logical)-1]
			continue
		}
		fn(logical, start, from, end)
		logical = nil
	}
	if logical != nil {
		fn(logical, start, from, len(data))
	}
}

// trimBlanks drops the leading spaces, tabs and form feeds of a line.
func trimBlanks(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\f') {
		b = b[1:]
	}
	return b
}

func trailingBackslashes(b []byte) int {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n
}

// indexLineEnd is the index of the first \r or \n in b, or -1.
func indexLineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		i = len(b)
	}
	if j := bytes.IndexByte(b[:i], '\r'); j >= 0 {
		return j
	}
	if i == len(b) {
		return -1
	}
	return i
}
