package rules

import (
	"bytes"
	"regexp"
	"strings"

	"github.com/peelscan/peel/rules/internal/textscan"
)

// RuleURLCredentials is the rule of credentials written in URLs.
const RuleURLCredentials = "url-credentials"

var urlCredentialsRule = Rule{
	ID:          RuleURLCredentials,
	Title:       "Credentials in a URL",
	Description: "A URL carries a user name and password (scheme://user:password@host, a JDBC password parameter, a .git-credentials line). Anyone who pulls the image can read it.",
	Remediation: "Keep the URL without credentials and pass them separately at run time (environment, mounted secret); then rotate the password.",
	Severity:    SeverityHigh,
	Kind:        KindPassword,
	Specificity: SpecificityKeyName,
}

// urlCredentials finds credentials in URLs in any text: files, command
// lines, image config values.
type urlCredentials struct{}

func (urlCredentials) Info() Info {
	return Info{Name: "url", Version: 2, Rules: []Rule{
		urlCredentialsRule.with(
			file("/app/conf/app.conf", "db = postgres://app:pg-url-pw@db:5432/app\nmq=amqp://guest:rabbit-url-pw@mq/\nplain=https://example.com/x\ndoc=mysql://user:password@localhost/db\nenv=redis://:${REDIS_PW}@cache:6379\n",
				at(1, "postgres://app", "pg-url-pw"), at(2, "amqp://guest", "rabbit-url-pw")),
			file("/app/conf/db.conf", "url=jdbc:mysql://db:3306/app?user=app&password=jdbc-param-pw&ssl=true\n",
				at(1, "jdbc:mysql://db:3306/app?user=app&password=", "jdbc-param-pw")),
			file("/root/.git-credentials", "https://bot:git-cred-token-1@git.example.com\n", at(1, "https://bot", "git-cred-token-1")),
			file("/app/conf/app.conf", "see https://example.com/docs and ftp://mirror.example.com/pub\n"),
			env("DATABASE_URL=postgres://app:env-url-pw@db/app", at(0, "postgres://app", "env-url-pw")),
			env("DATABASE_URL=postgres://app:${DB_PW}@db/app"),
			command("/bin/sh -c git clone https://ci:clone-url-pw-1@git.example.com/app.git", at(1, "https://ci", "clone-url-pw-1")),
			// Oracle's demo account, in SQLAlchemy's docstrings and anywhere.
			file("/usr/lib/python3/dist-packages/sqlalchemy/dialects/mysql/base.py", "    engine = create_engine(\"mysql+pymysql://scott:tiger@localhost/test\")\n"),
			file("/app/conf/db.conf", "url = postgresql://scott:tiger@db/app\n"),
			// A dependency's doc comments and type declarations show examples.
			file("/app/node_modules/mongoose/lib/connection.js", "/**\n *     mongoose.createConnection('mongodb://val:psw-7x@127.0.0.1:27017/mydb');\n */\nfunction Connection(base) {}\n"),
			file("/app/node_modules/@types/node/url.d.ts", "     * const myURL = new URL('https://abc:xyz-9q@example.com');\n"),
			file("/app/node_modules/ioredis/README.md", "new Redis(\"redis://:authpassword@127.0.0.1:6380/4\");\n"),
			// The same URL in the dependency's code (not a comment) is reported.
			file("/app/node_modules/acme/lib/db.js", "const url = 'mongodb://val:psw-7x@db.internal:27017/mydb';\n", at(1, "mongodb://val", "psw-7x")),
			// A dependency's tests, as its test resources.
			file("/app/node_modules/url/test.js", "  'http://atpass:foo%40bar@127.0.0.1/': {\n"),
			file("/usr/share/go-1.19/src/net/url/url_test.go", "\t\t\"http://jane:p%40ssword@google.com\",\n"),
			// Documentation by the whole location chain: a gzipped page.
			file("/usr/share/doc/libcurl4/TODO.gz!TODO", " http://test:pass;auth=NTLM@example.com/\n"),
		),
	}}
}

func (urlCredentials) Applies([]string) bool { return true }

func (urlCredentials) Detect(f *File, c *Collector) { scanURLs(f.Data, c) }

func (urlCredentials) DetectCommand(cmd Command, c *Collector) { scanURLs([]byte(cmd.Line), c) }

func (urlCredentials) DetectAssignment(_, value string, c *Collector) { scanURLs([]byte(value), c) }

var (
	urlCreds = regexp.MustCompile(`\b([a-zA-Z][a-zA-Z0-9+.\-]{1,20})://([^\s:@/'"<>()\[\]{}\\]{0,128}):([^\s@/'"<>\\]{1,256})@[A-Za-z0-9\[]`)
	urlParam = regexp.MustCompile(`(?i)\b(jdbc:[a-z0-9]+:[^\s'"<>]*?[?&;](?:password|pwd)=)([^&;\s'"<>]+)`)
)

// urlPlaceholders are passwords that documentation and examples put in URLs.
var urlPlaceholders = map[string]bool{
	"password": true, "pass": true, "passwd": true, "pwd": true, "secret": true, "pw": true,
	"yourpassword": true, "your-password": true, "your_password": true, "mypassword": true,
	"xxx": true, "xxxx": true, "xxxxx": true, "****": true, "...": true, "changeme": true,
	"user": true, "username": true, "token": true, "p": true,
}

// scanURLs finds credentials in URLs (scheme://user:password@host) and
// JDBC password parameters, in any text.
func scanURLs(data []byte, c *Collector) {
	var lines textscan.Lines
	lineOf := func(off int) int {
		if lines == nil {
			lines = textscan.NewLines(data)
		}
		return lines.Line(off)
	}
	// The regexps have no literal prefix: they run on the line around each
	// "://" or "jdbc:" only, not over the whole file. Windows may overlap,
	// so a match is taken once, by where it starts.
	seen := map[int]bool{}
	markerWindows(data, []byte("://"), func(w span) {
		for _, m := range urlCreds.FindAllSubmatchIndex(data[w.start:w.end], -1) {
			if seen[w.start+m[0]] {
				continue
			}
			seen[w.start+m[0]] = true
			seg := data[w.start:]
			scheme, user, pw := string(seg[m[2]:m[3]]), string(seg[m[4]:m[5]]), string(seg[m[6]:m[7]])
			urlFinding(scheme+"://"+user, pw, lineOf(w.start+m[0]), c)
		}
	})
	markerWindows(data, []byte("jdbc:"), func(w span) {
		for _, m := range urlParam.FindAllSubmatchIndex(data[w.start:w.end], -1) {
			if seen[-1-(w.start+m[0])] {
				continue
			}
			seen[-1-(w.start+m[0])] = true
			seg := data[w.start:]
			urlFinding(string(seg[m[2]:m[3]]), string(seg[m[4]:m[5]]), lineOf(w.start+m[0]), c)
		}
	})
}

// urlReach bounds a URL window on either side of its marker: a scheme
// before "://", credentials and host (or JDBC parameters) after it.
const urlReach = 2048

// urlOverlap is how far a window cut by urlReach (not by its line's end)
// is read again by the next, so that a URL across the cut is not lost.
const urlOverlap = 512

// span is a range of a file, data[start:end].
type span struct{ start, end int }

// markerWindows calls fn with the line around each occurrence of marker,
// cut to 64 bytes before it and urlReach after. A window covers the
// markers inside it; each byte of data is read at most about 1.3 times.
func markerWindows(data, marker []byte, fn func(span)) {
	for off := 0; off < len(data); {
		i := bytes.Index(data[off:], marker)
		if i < 0 {
			return
		}
		at := off + i
		lo := max(at-64, 0)
		for k := at - 1; k >= lo; k-- {
			if data[k] == '\n' {
				lo = k + 1
				break
			}
		}
		hi := min(len(data), at+urlReach)
		next := hi
		if j := bytes.IndexByte(data[at:hi], '\n'); j >= 0 {
			hi, next = at+j, at+j
		} else if hi < len(data) {
			next = hi - urlOverlap
		}
		fn(span{lo, hi})
		off = max(next, at+len(marker))
	}
}

func urlFinding(key, pw string, line int, c *Collector) {
	lower := strings.ToLower(pw)
	switch {
	case urlPlaceholders[lower], strings.HasPrefix(pw, "$"), strings.HasPrefix(pw, "%"):
		c.Dismiss(RuleURLCredentials, line, key, "placeholder")
		return
	}
	if _, _, ok, reason := ClassifyValue(pw); !ok {
		c.Dismiss(RuleURLCredentials, line, key, reason)
		return
	}
	c.Add(newFinding(RuleURLCredentials, line, key, pw))
}
