package rules

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlFiles reads YAML: Spring's application*.yml, kubeconfig, compose
// files, …
type yamlFiles struct{}

func (yamlFiles) Info() Info {
	const f = "/app/config/application.yml"
	return Info{Name: "yaml", Version: 2, Format: true, Rules: []Rule{
		configSecret.with(
			file(f, "server:\n  port: 8443\n  ssl:\n    key-store: /opt/keystore.jks\n    key-store-password: springboot\nspring:\n  datasource:\n    password: \"quoted-secret\"\n",
				at(5, "server.ssl.key-store-password", "springboot"), at(8, "spring.datasource.password", "quoted-secret")),
			file(f, "spring.profiles: dev\napp.token: dev-token-1\n---\nspring.profiles: prod\napp.token: ${TOKEN}\n", at(2, "app.token", "dev-token-1")),
			file(f, "clients:\n  - id: web\n    client-secret: web-secret-1\n", at(3, "clients[0].client-secret", "web-secret-1")),
			file(f, "a:\n  password:\n  secret: ~\n  token: ENC(abc)\n  pwd: '{cipher}abc'\n  enabled-password: true\n"),
			file(f, "base: &b\n  password: anchor-secret\nother: *b\n", at(2, "base.password", "anchor-secret")),
			file("/root/.kube/config", "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: kube-token-peel-1\n    client-key-data: "+
				base64.StdEncoding.EncodeToString([]byte("not-really-a-key-peel"))+"\n",
				at(6, "users[0].user.token", "kube-token-peel-1"), at(7, "users[0].user.client-key-data", base64.StdEncoding.EncodeToString([]byte("not-really-a-key-peel")))),
			file("/srv/docker-compose.yml", "services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD=compose-pg-pw\n      - POSTGRES_USER=app\n      - POSTGRES_DB=${DB}\n",
				at(4, "POSTGRES_PASSWORD", "compose-pg-pw")),
			// Anchors and aliases, merge keys: the value an alias stands
			// for, under the key that uses it, at the alias; a value
			// already judged under a secret-named key, once.
			file(f, "x-secrets:\n  db: &dbpw anchored-pw-1\nspring:\n  datasource:\n    password: *dbpw\n  mail:\n    password: *dbpw\n",
				at(5, "spring.datasource.password", "anchored-pw-1")),
			file(f, "defaults: &defaults\n  username: app\n  password: default-pw-1\nprod:\n  <<: *defaults\n  url: jdbc:postgresql://db/app\n",
				at(3, "defaults.password", "default-pw-1")),
			file(f, "prod:\n  <<: {password: merged-pw-1}\nstage:\n  <<: [{url: x}, {token: merged-token-1}]\n",
				at(2, "prod.password", "merged-pw-1"), at(4, "stage.token", "merged-token-1")),
			file(f, "x-pw: &pw ${DB_PASSWORD}\nspring:\n  datasource:\n    password: *pw\nlabels: &l {password: Password}\nform: *l\n"),
			// Settings that hold settings: JVM options, SPRING_APPLICATION_JSON.
			file("/srv/docker-compose.yml", "services:\n  app:\n    environment:\n      JAVA_OPTS: -Xmx512m -Dspring.datasource.password=compose-opts-pw\n"+
				"      SPRING_APPLICATION_JSON: '{\"spring\":{\"mail\":{\"password\":\"compose-json-pw\"}}}'\n  worker:\n    environment:\n      - JAVA_TOOL_OPTIONS=-Djavax.net.ssl.keyStorePassword=list-opts-pw\n",
				at(4, "spring.datasource.password", "compose-opts-pw"), at(5, "spring.mail.password", "compose-json-pw"), at(8, "javax.net.ssl.keyStorePassword", "list-opts-pw")),
			file("/srv/docker-compose.yml", "services:\n  app:\n    environment:\n      JAVA_OPTS: -Dspring.datasource.password=${DB_PASSWORD} -Dfile.encoding=UTF-8\n  worker:\n    environment:\n      - SPRING_APPLICATION_JSON={\"server\":{\"port\":8080}}\n"),
			file(f, utf16("spring:\n  datasource:\n    password: utf16-yaml-pw\n", true), at(3, "spring.datasource.password", "utf16-yaml-pw")),
		),
		configSecretDefault.with(
			file(f, "server:\n  ssl:\n    key-store-password: ${KEYSTORE_SECRET}\n    key-password: ${KEY_SECRET:fallback-pw}\n", at(4, "server.ssl.key-password", "fallback-pw")),
			file(f, "server:\n  ssl:\n    key-password: ${KEY_SECRET:}\n"),
		),
		privateKey.with(
			file("/root/.kube/config", "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    client-key-data: "+base64.StdEncoding.EncodeToString(examplePEM("kubeconfig"))+"\n",
				at(6, "users[0].user.client-key-data", pemBase64(examplePEM("kubeconfig")))),
			file("/root/.kube/config", "users:\n- user:\n    client-key-data: "+base64.StdEncoding.EncodeToString([]byte("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"))+"\n",
				at(3, "users[0].user.client-key-data", base64.StdEncoding.EncodeToString([]byte("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"))).of(RuleConfigSecret)),
		),
	}}
}

func (yamlFiles) Applies(path []string) bool {
	b := fileName(path)
	return hasSuffixFold(b, ".yml") || hasSuffixFold(b, ".yaml") ||
		isName(b, "config") && hasSuffixFold(dirName(path), ".kube") || hasPrefixFold(b, "kubeconfig")
}

func (yamlFiles) Detect(f *File, c *Collector) { scanYAML(f.Data, c) }

// ScanYAML finds secrets in a YAML file, every document of it (Spring
// profiles are separate documents). Keys are joined with dots as Spring
// flattens them (spring.datasource.password, list items as key[0]); lines
// are the value's own line. Documents are split at "---" lines and parsed
// one by one, so a malformed document does not hide the others.
func ScanYAML(data []byte) ([]Finding, error) {
	var c Collector
	scanYAML(data, &c)
	r := c.finish()
	return r.Findings, firstIncomplete(r)
}

func scanYAML(data []byte, c *Collector) {
	forEachYAMLDocument(data, func(doc []byte, firstLine int) {
		if !yamlHasEntries(doc) {
			return
		}
		var n yaml.Node
		if err := yaml.Unmarshal(doc, &n); err != nil {
			c.Incomplete(firstLine, fmt.Sprintf("malformed YAML document at line %d: its keys were not read", firstLine))
			return
		}
		w := yamlWalker{c: c, lineOffset: firstLine - 1, budget: maxYAMLAliasNodes}
		if bytes.IndexByte(doc, '*') >= 0 {
			w.judged = map[*yaml.Node]bool{} // the document may hold aliases
		}
		w.walk(&n, "", 0, 0)
		if w.budget < 0 {
			c.Incomplete(firstLine, fmt.Sprintf("YAML document at line %d: its aliases expand past %d nodes; the rest were not followed", firstLine, maxYAMLAliasNodes))
		}
	})
}

// yamlHasEntries reports whether a document can hold a mapping or a
// sequence: without ':', '?', '-' or '[' it is a single scalar, which has
// no key to judge, and is not parsed.
func yamlHasEntries(doc []byte) bool {
	for _, c := range []byte(":-[?") {
		if bytes.IndexByte(doc, c) >= 0 {
			return true
		}
	}
	return false
}

// forEachYAMLDocument calls fn with each document of a YAML stream and the
// line it starts on. A document starts after a line that begins "---".
func forEachYAMLDocument(data []byte, fn func(doc []byte, firstLine int)) {
	line, start, startLine := 1, 0, 1
	for i := 0; i <= len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		next := len(data) + 1
		if j >= 0 {
			next = i + j + 1
		}
		l := data[i:min(next, len(data))]
		if bytes.HasPrefix(l, []byte("---")) && (len(l) == 3 || l[3] == ' ' || l[3] == '\n' || l[3] == '\r') {
			if i > start {
				fn(data[start:i], startLine)
			}
			start, startLine = min(next, len(data)), line+1
		}
		line++
		i = next
	}
	if start < len(data) {
		fn(data[start:], startLine)
	}
}

// maxYAMLDepth bounds recursion on hostile nesting, and maxYAMLAliasNodes
// the nodes visited through aliases in one document (a "billion laughs"
// document of aliases to aliases expands exponentially).
const (
	maxYAMLDepth      = 64
	maxYAMLAliasNodes = 1 << 16
)

// yamlWalker flattens one YAML document into settings. An alias is read as
// what it stands for, under the key that uses it (password: *pw is the
// value anchored as &pw), and a merge key (<<: *defaults) adds its
// mapping's entries to the mapping it sits in, as Spring's YAML loader
// (SnakeYAML) reads both. A value is judged once under a key that names a
// secret: an alias to it under another such key adds nothing.
type yamlWalker struct {
	c          *Collector
	lineOffset int
	// judged holds the scalars already judged under a secret-named key;
	// nil when the document has no alias.
	judged map[*yaml.Node]bool
	// budget is what is left of maxYAMLAliasNodes; below zero, aliases are
	// no longer followed.
	budget int
}

// walk reads node n under key prefix. aliasLine, when not 0, is the line of
// the alias n was reached through, where what is found is reported.
func (w *yamlWalker) walk(n *yaml.Node, prefix string, depth, aliasLine int) {
	if n == nil || depth > maxYAMLDepth {
		return
	}
	if aliasLine > 0 {
		if w.budget--; w.budget < 0 {
			return
		}
	}
	line := func(n *yaml.Node) int {
		if aliasLine > 0 {
			return aliasLine
		}
		return n.Line + w.lineOffset
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			w.walk(c, prefix, depth+1, aliasLine)
		}
	case yaml.AliasNode:
		if aliasLine == 0 {
			aliasLine = n.Line + w.lineOffset
		}
		w.walk(n.Alias, prefix, depth+1, aliasLine)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				// <<: *defaults, <<: {…} or <<: [*a, *b]: the entries
				// of the mappings belong to this mapping.
				if v.Kind == yaml.SequenceNode {
					for _, m := range v.Content {
						w.walk(m, prefix, depth+2, aliasLine)
					}
					continue
				}
				w.walk(v, prefix, depth+1, aliasLine)
				continue
			}
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			w.walk(v, key, depth+1, aliasLine)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			// docker-compose style environment lists: "- KEY=value".
			if c.Kind == yaml.ScalarNode {
				if k, v, ok := envAssignment(c.Value); ok {
					setting(w.c, RuleConfigSecret, k, v, line(c))
					continue
				}
			}
			w.walk(c, prefix+"["+strconv.Itoa(i)+"]", depth+1, aliasLine)
		}
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return
		}
		if w.judged != nil && IsSecretKey(prefix) {
			if w.judged[n] {
				return
			}
			w.judged[n] = true
		}
		if w.keyData(prefix, n, line(n)) {
			return
		}
		setting(w.c, RuleConfigSecret, prefix, n.Value, line(n))
	}
}

// keyData reads kubeconfig's client-key-data (base64 of a PEM private key)
// as the key it holds, reported at the value's line. It reports whether it
// took the value.
func (w *yamlWalker) keyData(key string, n *yaml.Node, line int) bool {
	if !strings.HasSuffix(normalizeKey(key), "keydata") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(n.Value))
	if err != nil || !bytes.Contains(raw, []byte("PRIVATE KEY")) {
		return false
	}
	var inner Collector
	scanPrivateKeys(raw, false, &inner)
	if len(inner.res.Findings) == 0 {
		return false
	}
	for _, f := range inner.res.Findings {
		f.Line, f.Key = line, key
		w.c.Add(f)
	}
	return true
}
