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
	return Info{Name: "properties", Version: 1, Format: true, Rules: []Rule{
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
// holds; a logical line without any of them is not parsed at all.
var keyHints = [][]byte{[]byte("pass"), []byte("pwd"), []byte("secret"), []byte("token"), []byte("credential"), []byte("key")}

// ScanProperties finds secrets in a Java .properties file. Each logical line
// (continuation lines joined) that could hold a secret-named key is parsed
// on its own by magiconair/properties, which owns the syntax (separators,
// escapes, \uXXXX); parsing line by line keeps line numbers, which the
// library does not report, and keeps duplicate keys, of which it keeps only
// the last.
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

// hintScanner finds the key hints, in either case.
var hintScanner = func() *textscan.Scanner {
	hints := make([]string, len(keyHints))
	for i, h := range keyHints {
		hints[i] = string(h)
	}
	return textscan.New(hints)
}()

func scanProperties(data []byte, c *Collector) {
	// Where the hints are, found in one pass; a logical line is parsed only
	// if one starts within it (no hint holds a line break).
	var hints []int
	hintScanner.Scan(data, func(start, _ int) { hints = append(hints, start) })
	if len(hints) == 0 {
		return
	}
	sort.Ints(hints)
	loader := properties.Loader{Encoding: properties.UTF8, DisableExpansion: true}
	if !utf8.Valid(data) {
		loader.Encoding = properties.ISO_8859_1
	}
	// The first malformed line is reported, with a count of the others.
	malformed, firstMalformed := 0, 0
	defer func() {
		if malformed == 0 {
			return
		}
		reason := fmt.Sprintf("line %d: malformed property, not read", firstMalformed)
		if malformed > 1 {
			reason += fmt.Sprintf(" (nor %d more malformed lines)", malformed-1)
		}
		c.Incomplete(firstMalformed, reason)
	}()
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
		if to-from >= len(line) && !bytes.ContainsAny(data[from:to], "\r\n") {
			ks := to - len(line)
			if !keyHinted(ks, ks+propertyKeyEnd(line)) && !hasKeystoreSuffix(line) {
				return
			}
		}
		p, err := loader.LoadBytes(line)
		if err != nil {
			if malformed == 0 {
				firstMalformed = lineNo
			}
			malformed++
			return
		}
		for _, k := range p.Keys() {
			v, _ := p.Get(k)
			c.KeyValue(RuleConfigSecret, k, v, lineNo)
		}
	}
	if bytes.IndexByte(data, '\r') >= 0 || bytes.Contains(data, []byte("\\\n")) || bytes.HasSuffix(data, []byte{'\\'}) {
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
	line = bytes.TrimRight(line, " \t\f")
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
