package rules

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// lineIndex maps byte offsets of one file to 1-based line numbers.
type lineIndex []int // offsets at which lines start

func newLineIndex(data []byte) lineIndex {
	idx := make(lineIndex, 1, bytes.Count(data, []byte{'\n'})+1)
	for at := 0; ; {
		i := bytes.IndexByte(data[at:], '\n')
		if i < 0 {
			return idx
		}
		at += i + 1
		idx = append(idx, at)
	}
}

func (l lineIndex) line(off int) int {
	lo, hi := 0, len(l)
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if l[mid] <= off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}

// forEachLine calls fn with each line (without its end) and its number.
func forEachLine(data []byte, fn func(line []byte, n int)) {
	n := 0
	for len(data) > 0 {
		n++
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			line, data = data, nil
		} else {
			line, data = data[:i], data[i+1:]
		}
		fn(bytes.TrimSuffix(line, []byte("\r")), n)
	}
}

var envKey = regexp.MustCompile(`^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-/:@]*)\s*[=:]\s?`)

// envAssignment splits "KEY=value" (or "export KEY=value") as a shell, a
// .env file or a compose environment list writes it.
func envAssignment(s string) (key, value string, ok bool) {
	m := envKey.FindStringSubmatchIndex(s)
	if m == nil || !strings.Contains(s[m[0]:m[1]], "=") {
		return "", "", false
	}
	return s[m[2]:m[3]], unquote(strings.TrimSpace(s[m[1]:])), true
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' && v[len(v)-1] == '"' || v[0] == '\'' && v[len(v)-1] == '\'') {
		return v[1 : len(v)-1]
	}
	// An unquoted value ends at a " #" comment.
	if i := strings.Index(v, " #"); i >= 0 {
		return strings.TrimSpace(v[:i])
	}
	return v
}

// scanKeyValueLines reads .env, INI (~/.aws/credentials, .pypirc, my.cnf)
// and .npmrc files: KEY=VALUE or KEY = VALUE lines, "[section]" headers
// and "#" or ";" comments.
func scanKeyValueLines(data []byte, c *collector) {
	forEachLine(data, func(line []byte, n int) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' || s[0] == ';' || s[0] == '[' {
			return
		}
		i := strings.IndexByte(s, '=')
		if i <= 0 {
			return
		}
		key := strings.TrimSpace(strings.TrimPrefix(s[:i], "export "))
		value := unquote(strings.TrimSpace(s[i+1:]))
		// .npmrc scopes keys by registry: //registry.npmjs.org/:_authToken.
		if j := strings.LastIndex(key, ":_"); j >= 0 {
			key = key[j+1:]
		}
		if key == "_auth" {
			key = "_authToken"
		}
		c.keyValue(RuleConfigSecret, key, value, n)
	})
}

// xmlContainers are elements whose name or key attribute names the setting
// and whose value attribute (or text) holds it: Spring's <property>,
// <entry>, web.xml's <init-param> are covered by param-name/param-value.
var xmlContainers = map[string]bool{"property": true, "entry": true, "param": true, "constructor-arg": true, "env-entry": true, "add": true, "setting": true}

// scanXML reads XML: attributes named like secrets (Tomcat keystorePass,
// <Resource password=…>), elements named like secrets (Maven <password>),
// and name/value pairs (<property name="password" value="…"/>,
// <param-name>/<param-value>).
func scanXML(data []byte, c *collector) {
	if bytes.IndexByte(data, '<') < 0 {
		return // no element, no attribute: nothing to judge
	}
	lines := newLineIndex(data)
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	var (
		stack     []string
		paramName string
	)
	for {
		start := int(dec.InputOffset())
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			c.fail(fmt.Errorf("malformed XML at line %d", lines.line(start)))
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			stack = append(stack, name)
			end := int(dec.InputOffset())
			attrLine := func(attr string) int {
				if i := bytes.Index(data[start:min(end, len(data))], []byte(attr)); i >= 0 {
					return lines.line(start + i)
				}
				return lines.line(start)
			}
			var nameAttr, valueAttr string
			for _, a := range t.Attr {
				switch strings.ToLower(a.Name.Local) {
				case "name", "key":
					nameAttr = a.Value
				case "value":
					valueAttr = a.Value
				default:
					if IsSecretKey(a.Name.Local) {
						c.keyValue(RuleConfigSecret, name+"@"+a.Name.Local, a.Value, attrLine(a.Name.Local+"="))
					}
				}
			}
			if xmlContainers[strings.ToLower(name)] && nameAttr != "" && valueAttr != "" {
				c.keyValue(RuleConfigSecret, nameAttr, valueAttr, attrLine("value="))
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) == 0 {
				continue
			}
			text := strings.TrimSpace(string(t))
			if text == "" {
				continue
			}
			el := stack[len(stack)-1]
			line := lines.line(start + bytes.Index(t, []byte(text[:1])))
			switch strings.ToLower(el) {
			case "param-name", "name", "key":
				paramName = text
			case "param-value", "value":
				if paramName != "" {
					c.keyValue(RuleConfigSecret, paramName, text, line)
					paramName = ""
				}
			default:
				if IsSecretKey(el) {
					c.keyValue(RuleConfigSecret, el, text, line)
				}
			}
		}
	}
}

// jsonManifests are package manifests and lock files: their keys name
// packages (jsonwebtoken, passport-token), not settings.
var jsonManifests = map[string]bool{"package.json": true, "package-lock.json": true, "composer.json": true,
	"composer.lock": true, "bower.json": true, "npm-shrinkwrap.json": true, "deno.json": true, "tsconfig.json": true}

// scanJSON reads JSON: string values under secret-named keys, and Docker's
// config.json credentials (auths.REGISTRY.auth is base64 of user:password).
func scanJSON(name string, data []byte, c *collector) {
	if jsonManifests[strings.ToLower(path.Base(name))] || bytes.IndexByte(data, '{') < 0 {
		return // a manifest, or no object: no key to judge
	}
	lines := newLineIndex(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		isObject bool
		nextKey  bool // in an object: the next string is a key
		lastKey  string
	}
	var stack []frame
	path := func(k string) string {
		parts := make([]string, 0, len(stack)+1)
		for _, f := range stack[:len(stack)-1] {
			if f.isObject {
				parts = append(parts, f.lastKey)
			}
		}
		parts = append(parts, k)
		return strings.Join(parts, ".")
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			c.fail(fmt.Errorf("malformed JSON at line %d", lines.line(int(dec.InputOffset()))))
			return
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, frame{isObject: t == '{', nextKey: t == '{'})
				continue
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].isObject {
					stack[len(stack)-1].nextKey = true
				}
				continue
			}
		case string:
			if top != nil && top.isObject && top.nextKey {
				top.lastKey, top.nextKey = t, false
				continue
			}
			if top != nil && top.isObject {
				key := path(top.lastKey)
				line := lines.line(int(dec.InputOffset()) - 1)
				if strings.HasPrefix(key, "auths.") && strings.HasSuffix(key, ".auth") {
					dockerAuth(key, t, line, c)
				} else if strings.HasPrefix(key, "auths.") && IsSecretKey(top.lastKey) {
					c.keyValue(RuleDockerConfigAuth, key, t, line)
				} else {
					c.keyValue(RuleConfigSecret, key, t, line)
				}
			}
		}
		if top != nil && top.isObject {
			top.nextKey = true
		}
	}
}

// dockerAuth decodes a config.json auth entry, base64 of user:password.
func dockerAuth(key, value string, line int, c *collector) {
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		c.dismiss(RuleDockerConfigAuth, line, key, "not base64")
		return
	}
	_, pw, ok := strings.Cut(string(raw), ":")
	if !ok || pw == "" {
		c.dismiss(RuleDockerConfigAuth, line, key, "no password in the auth entry")
		return
	}
	// The finding's secret is the literal in the file (base64 of
	// user:password), as gitleaks and a reader of the file see it.
	c.add(newFinding(RuleDockerConfigAuth, line, key, value))
}

// scanNetrc reads .netrc: "machine HOST login USER password SECRET" in any
// layout over lines.
func scanNetrc(data []byte, c *collector) {
	machine := ""
	want := ""
	forEachLine(data, func(line []byte, n int) {
		for _, tok := range strings.Fields(string(line)) {
			switch {
			case want == "machine":
				machine, want = tok, ""
			case want == "password":
				c.keyValue(RuleConfigSecret, "machine "+machine+" password", tok, n)
				want = ""
			case tok == "machine" || tok == "password":
				want = tok
			case tok == "default":
				machine = "default"
			}
		}
	})
}

// scanPgpass reads ~/.pgpass: hostname:port:database:username:password,
// with \: and \\ escapes.
func scanPgpass(data []byte, c *collector) {
	forEachLine(data, func(line []byte, n int) {
		s := string(line)
		if strings.HasPrefix(strings.TrimSpace(s), "#") {
			return
		}
		var fields []string
		var cur strings.Builder
		for i := 0; i < len(s); i++ {
			switch {
			case s[i] == '\\' && i+1 < len(s):
				i++
				cur.WriteByte(s[i])
			case s[i] == ':' && len(fields) < 4:
				fields = append(fields, cur.String())
				cur.Reset()
			default:
				cur.WriteByte(s[i])
			}
		}
		if len(fields) != 4 {
			return
		}
		pw := cur.String()
		key := strings.Join(fields, ":")
		if _, _, ok, reason := ClassifyValue(pw); !ok {
			c.dismiss(RuleConfigSecret, n, key, reason)
			return
		}
		c.add(newFinding(RuleConfigSecret, n, key, pw))
	})
}

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
func scanURLs(data []byte, c *collector) {
	var lines lineIndex
	lineOf := func(off int) int {
		if lines == nil {
			lines = newLineIndex(data)
		}
		return lines.line(off)
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

func urlFinding(key, pw string, line int, c *collector) {
	lower := strings.ToLower(pw)
	switch {
	case urlPlaceholders[lower], strings.HasPrefix(pw, "$"), strings.HasPrefix(pw, "%"):
		c.dismiss(RuleURLCredentials, line, key, "placeholder")
		return
	}
	if _, _, ok, reason := ClassifyValue(pw); !ok {
		c.dismiss(RuleURLCredentials, line, key, reason)
		return
	}
	c.add(newFinding(RuleURLCredentials, line, key, pw))
}

var (
	buildArgs   = regexp.MustCompile(`^\|\d+ (.*?) (?:/bin/sh -c|/bin/bash -c|RUN )`)
	nopArg      = regexp.MustCompile(`#\(nop\)\s+ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)`)
	flagSecret  = regexp.MustCompile(`(?i)\s--?([a-z][a-z0-9\-]*(?:password|passwd|passphrase|token|secret|api-?key))(?:=|\s+)('[^']*'|"[^"]*"|[^\s;&|'"]+)`)
	mysqlPass   = regexp.MustCompile(`\bmysql(?:admin|dump)?\b[^;&|\n]*?\s-p([^\s;&|'"]+)`)
	sysProp     = regexp.MustCompile(`(?:^|\s)-D([A-Za-z0-9_.\-]+)=('[^']*'|"[^"]*"|\S+)`)
	curlUser    = regexp.MustCompile(`\bcurl\b[^;&|\n]*?\s(?:-u|--user)\s+['"]?([^\s:'"]+):([^\s;&|'"]+)`)
	buildArgKey = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)=(\S*)`)
)

// scanCommand reads one build step as the image history records it: build
// arguments ("|2 NPM_TOKEN=… /bin/sh -c npm ci"), ARG defaults, and
// credentials on command lines (--password …, mysql -p…, curl -u user:pw).
func scanCommand(cmd string, c *collector) {
	if m := buildArgs.FindStringSubmatch(cmd); m != nil {
		for _, kv := range buildArgKey.FindAllStringSubmatch(m[1], -1) {
			c.keyValue(RuleBuildSecret, kv[1], kv[2], 1)
		}
	}
	for _, m := range nopArg.FindAllStringSubmatch(cmd, -1) {
		c.keyValue(RuleBuildSecret, m[1], m[2], 1)
	}
	if strings.Contains(cmd, "#(nop)") {
		return // ENV, LABEL and friends: the image config holds them
	}
	for _, m := range flagSecret.FindAllStringSubmatch(cmd, -1) {
		commandFinding("--"+m[1], m[2], c)
	}
	for _, m := range sysProp.FindAllStringSubmatch(cmd, -1) {
		c.keyValue(RuleBuildSecret, m[1], unquote(m[2]), 1)
	}
	for _, m := range mysqlPass.FindAllStringSubmatch(cmd, -1) {
		commandFinding("mysql -p", m[1], c)
	}
	for _, m := range curlUser.FindAllStringSubmatch(cmd, -1) {
		commandFinding("curl -u "+m[1], m[2], c)
	}
}

func commandFinding(key, value string, c *collector) {
	value = unquote(value)
	if strings.HasPrefix(value, "$") {
		c.dismiss(RuleBuildSecret, 1, key, "variable reference")
		return
	}
	if _, _, ok, reason := ClassifyValue(value); !ok {
		c.dismiss(RuleBuildSecret, 1, key, reason)
		return
	}
	c.add(newFinding(RuleBuildSecret, 1, key, value))
}
